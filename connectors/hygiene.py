"""Checks every connector applies to the values of a record: text is text, ids are scalars.

A record's ``text`` that is a number, list, object, boolean or NaN is not feedback we can read:
it is quarantined with the reason rather than stored as its ``str()`` (``['投诉', 'x']``). An id
must be a string or an integer; an object id would become the external id ``{'nested': 1}``.
Flags name what was repaired on a message that was kept (see :class:`~monitor.message.Message`).
"""

from __future__ import annotations

import math
from typing import Any

from monitor.errors import BadInputError
from monitor.message import INVALID_BYTES as MESSAGE_INVALID_BYTES

BOM = "\ufeff"
REPLACEMENT = "\ufffd"

# Message.flags values
TIME_UNPARSED = "time-unparsed"  # a time was given but not understood or out of bounds: fetch time used
INVALID_BYTES = MESSAGE_INVALID_BYTES  # bytes that were not valid in the encoding became U+FFFD


def kind_of(value: Any) -> str:
    """A short JSON-ish name of a value's type, for reasons."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


def require_text(value: Any, field: str, *, allow_empty: bool = False) -> str:
    """``value`` when it is a string (non-blank unless ``allow_empty``); else BadInputError."""
    if isinstance(value, str):
        if not allow_empty and not value.strip():
            raise BadInputError(f"record has no {field!r} field")
        return value
    if value is None:
        if allow_empty:
            return ""
        raise BadInputError(f"record has no {field!r} field")
    raise BadInputError(f"{field!r} is {kind_of(value)}, not text")


def optional_text(value: Any, field: str) -> str:
    """A string field that may be absent; numbers are accepted as their digits, containers are not."""
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise BadInputError(f"{field!r} is {kind_of(value)}, not text")


def scalar_id(value: Any, field: str) -> str:
    """An id as text: strings and integers only ("" when absent); objects, lists, floats are refused."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise BadInputError(f"{field!r} must be a string or an integer, not {kind_of(value)}")


def strip_bom(text: str) -> str:
    """Text without a leading byte-order mark (Windows tools write one at the start of files)."""
    return text[1:] if text.startswith(BOM) else text


def decode_lenient(raw: bytes, encoding: str) -> tuple[str, tuple[str, ...]]:
    """Decode ``raw``; invalid bytes become U+FFFD and the text is flagged ``invalid-bytes-replaced``."""
    try:
        return raw.decode(encoding), ()
    except UnicodeDecodeError:
        return raw.decode(encoding, "replace"), (INVALID_BYTES,)
