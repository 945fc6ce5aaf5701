"""Header decoding that survives what real mail clients send.

* RFC 2047 encoded-words, also the broken forms: glued to surrounding text, inside quoted
  strings, with whitespace inside, missing base64 padding, and a multi-byte character split across
  two encoded-words (common in Chinese mail: the bytes of adjacent words are joined *before*
  decoding);
* raw 8-bit header bytes (arriving as surrogate escapes from :mod:`email`), decoded with the
  message's body charset as a hint and the CJK heuristics of :mod:`connectors.mail.charsets`;
* unknown or wrong charset labels (``x-gbk``, GB2312 holding GBK characters).
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re

from connectors.mail.charsets import decode_text

_ENCODED_WORD = re.compile(
    r"=\?(?P<charset>[^?\s]+)\?(?P<enc>[bBqQ])\?(?P<text>[^?]*?)\?=",
)
_FOLD = re.compile(r"\r?\n[ \t]*")
_SPACES = re.compile(r"[ \t]+")


def _word_bytes(enc: str, text: str) -> bytes:
    if enc in "bB":
        cleaned = re.sub(r"[^A-Za-z0-9+/]", "", text)
        cleaned += "=" * (-len(cleaned) % 4)
        try:
            return base64.b64decode(cleaned)
        except (binascii.Error, ValueError):
            return text.encode("ascii", "replace")
    return quopri.decodestring(text.replace("_", " ").encode("ascii", "replace"), header=False)


def _raw_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def decode_header(value: str | bytes | None, *, hint: str | None = None) -> str:
    """Decode one header value to clean text (unfolded, whitespace collapsed).

    ``value`` is the raw value as :mod:`email` (compat32) hands it over, possibly holding
    surrogate-escaped 8-bit bytes, or bytes. ``hint`` is a charset to try for raw 8-bit bytes.
    """
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("ascii", "surrogateescape")
    value = _FOLD.sub(" ", value)
    out: list[str] = []
    pending: list[tuple[str, bytes]] = []  # adjacent encoded words: (charset, bytes)
    position = 0

    def flush() -> None:
        # Join the bytes of adjacent words with the same charset, then decode once.
        joined: list[tuple[str, bytearray]] = []
        for charset, data in pending:
            if joined and joined[-1][0] == charset:
                joined[-1][1].extend(data)
            else:
                joined.append((charset, bytearray(data)))
        out.extend(decode_text(bytes(data), charset) for charset, data in joined)
        pending.clear()

    for match in _ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        if between and not (pending and between.isspace()):
            flush()
            out.append(decode_text(_raw_bytes(between), hint))
        pending.append((match["charset"].lower(), _word_bytes(match["enc"], match["text"])))
        position = match.end()
    flush()
    out.append(decode_text(_raw_bytes(value[position:]), hint))
    return _SPACES.sub(" ", "".join(out)).strip()
