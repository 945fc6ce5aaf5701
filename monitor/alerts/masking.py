"""Mask personal data before alert text leaves for a (group) chat.

Phone numbers, Chinese resident ID numbers, e-mail addresses and bank card numbers keep a few
characters so staff can still tell two people apart; the database keeps the unmasked text.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_CN_ID = re.compile(r"(?<![0-9])([1-9][0-9]{5})[0-9]{8}([0-9]{3}[0-9Xx])(?![0-9])")
_CARD = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){15,18}(?![0-9])")  # 16-19 digit card numbers
_CN_MOBILE = re.compile(r"(?<![0-9])(\+?86[- ]?)?(1[3-9][0-9])[- ]?[0-9]{4}[- ]?([0-9]{4})(?![0-9])")
_PHONE = re.compile(r"(?<![0-9])(0[0-9]{2,3})[- ]?[0-9]{3,4}([0-9]{4})(?![0-9])")


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"[^0-9]", "", match.group(0))
    return f"{digits[:4]} **** **** {digits[-4:]}"


def mask_personal_data(text: str) -> str:
    text = _EMAIL.sub(r"\1***@\2", text)
    text = _CN_ID.sub(r"\1********\2", text)
    text = _CN_MOBILE.sub(lambda m: f"{m.group(1) or ''}{m.group(2)}****{m.group(3)}", text)
    text = _CARD.sub(_mask_card, text)
    return _PHONE.sub(r"\1-****\2", text)
