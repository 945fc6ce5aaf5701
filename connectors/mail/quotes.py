"""Separate what the sender wrote now from the quoted history and the signature.

A ticket should show a customer's new words, not the whole thread again. Markers recognised:
``>`` quote lines; attribution lines (``On … wrote:``, ``在 … 写道：``, ``於 … 寫道：``); the
separators of Outlook, Foxmail/QQ Mail, NetEase and Gmail in English and Chinese
(``-----Original Message-----``, ``-----原始邮件-----``, ``---------- Forwarded message ---------``);
Outlook's header block (``From:``/``发件人:`` followed by ``Sent:``/``发送时间:``); and signatures
(the RFC 3676 ``-- `` line, "Sent from my iPhone", ``发自我的iPhone``, ``网易邮箱大师`` ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ATTRIBUTION = re.compile(
    r"^\s*(on\b.{0,300}\bwrote:|在.{0,200}(写道|寫道)\s*[:：]?|於.{0,200}寫道\s*[:：]?"
    r"|.{0,200}\s(写道|寫道)\s*[:：])\s*$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"^\s*(-{2,}\s*(original message|原始邮件|原始郵件|原邮件|forwarded message|转发邮件信息|轉寄郵件)"
    r"\s*-{2,}|-{5,}\s*(原始邮件|原始郵件)\s*-{5,}|begin forwarded message:|_{20,})\s*$",
    re.IGNORECASE,
)
_HEADER_FROM = re.compile(r"^\s*\*?(from|发件人|寄件者|發件人)\s*\*?\s*[:：]", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"^\s*\*?(sent|date|to|subject|发送时间|发送日期|日期|收件人|寄件日期|收件者|主题|主旨)\s*\*?\s*[:：]",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(
    r"^\s*(--|-- |——|sent from my .{1,40}|get outlook for .{1,20}|发自我的.{1,20}|從我的.{1,20}傳送"
    r"|从我的.{1,20}发送|发自.{0,10}(网易邮箱|邮箱大师|qq邮箱|手机)|來自我的.{1,20}"
    r"|sent from mail for windows.*)\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class SplitText:
    """A body split into the new text, the quoted history and the signature."""

    new: str
    quoted: str
    signature: str


def _quote_start(lines: list[str]) -> int:
    for index, line in enumerate(lines):
        if _ATTRIBUTION.match(line) or _SEPARATOR.match(line):
            return index
        if _HEADER_FROM.match(line) and any(_HEADER_NEXT.match(n) for n in lines[index + 1 : index + 4]):
            return index
        # "On Mon, 1 Jan 2024 at 10:00, Someone <x@y>" / "wrote:" split over two lines
        if (
            index + 1 < len(lines)
            and line.lower().lstrip().startswith("on ")
            and lines[index + 1].strip().lower().endswith("wrote:")
        ):
            return index
    return len(lines)


def split_reply(text: str) -> SplitText:
    """Split ``text``; ``new`` is empty when the mail holds nothing but quoted or forwarded text."""
    lines = text.splitlines()
    start = _quote_start(lines)
    head, tail = lines[:start], lines[start:]
    quoted = [line for line in head if line.lstrip().startswith(">")]
    own = [line for line in head if not line.lstrip().startswith(">")]
    signature: list[str] = []
    for index in range(len(own) - 1, -1, -1):
        if _SIGNATURE.match(own[index]) and len(own) - index <= 12:
            signature = own[index:]
            own = own[:index]
            break
    while own and own[-1].strip() == "":
        own.pop()
    # An attribution line directly above a ">" block belongs to the quote.
    if own and quoted and _ATTRIBUTION.match(own[-1]):
        quoted.insert(0, own.pop())
    return SplitText(
        new="\n".join(own).strip(),
        quoted="\n".join(quoted + tail).strip(),
        signature="\n".join(signature).strip(),
    )
