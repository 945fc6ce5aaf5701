"""Decode bytes whose charset label may be wrong, missing or unknown.

Real Chinese mail is labelled badly: GB2312 that contains GBK-only characters, ``x-gbk``,
``Big5`` that is really Big5-HKSCS, UTF-8 labelled ``GB2312`` by misconfigured servers, and raw
8-bit headers with no label at all. The rules, in order:

1. non-ASCII bytes that are valid UTF-8 are UTF-8, whatever the label says (legacy CJK text is
   practically never valid UTF-8: its lead bytes form invalid sequences within a few characters);
2. the label, mapped to the superset codec that browsers use (GB2312/GBK → GB18030, Big5 →
   Big5-HKSCS, ks_c_5601 → CP949, Latin-1 → CP1252);
3. without a usable label: GB18030 or Big5-HKSCS, whichever yields more common characters;
4. last resort, with replacement characters so nothing ever raises: UTF-8 when that was declared
   (damaged UTF-8), else the label's codec, else Windows-1252 (8-bit bytes without a label).
"""

from __future__ import annotations

import codecs
import re

# label (lower-case) -> codec. Supersets, as in the WHATWG encoding standard.
_ALIASES: dict[str, str] = {
    "gb2312": "gb18030",
    "gb_2312-80": "gb18030",
    "gb_2312": "gb18030",
    "csgb2312": "gb18030",
    "euc-cn": "gb18030",
    "x-euc-cn": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ms936": "gb18030",
    "windows-936": "gb18030",
    "chinese": "gb18030",
    "iso-ir-58": "gb18030",
    "hz-gb-2312": "hz",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "big-5": "big5hkscs",
    "big-five": "big5hkscs",
    "bigfive": "big5hkscs",
    "cn-big5": "big5hkscs",
    "csbig5": "big5hkscs",
    "big5-hkscs": "big5hkscs",
    "cp950": "big5hkscs",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "x-sjis": "cp932",
    "sjis": "cp932",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "ansi_x3.4-1968": "utf-8",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
    "unknown-8bit": "",
    "x-unknown": "",
    "unknown": "",
    "default": "",
}

_ASCII = re.compile(rb"[\x00-\x7f]*")
_SEVEN_BIT = {"iso2022_jp", "iso2022_jp_1", "iso2022_jp_2", "iso2022_jp_2004", "iso2022_jp_3",
              "iso2022_jp_ext", "iso2022_kr", "utf-7", "hz"}
_CJK_CODECS = {"gb18030", "big5hkscs"}


def codec_for(label: str | None) -> str | None:
    """The Python codec to use for a charset label, or ``None`` when the label is unusable."""
    if not label:
        return None
    key = label.strip().strip("\"'").lower()
    key = key.split("*", 1)[0]  # RFC 2231 language suffix: utf-8*zh-cn
    if key in _ALIASES:
        return _ALIASES[key] or None
    try:
        name = codecs.lookup(key).name
    except LookupError:
        return None
    return _ALIASES.get(name, name)


def _common_ratio(text: str, codec: str) -> float:
    """Share of CJK characters that fall in the common (level-1) plane of ``codec``'s charset."""
    hanzi = [c for c in text if "\u4e00" <= c <= "\u9fff"]
    if not hanzi:
        return 0.5
    common = 0
    for char in hanzi:
        try:
            encoded = char.encode("gb2312" if codec == "gb18030" else "big5")
        except UnicodeEncodeError:
            continue
        # GB2312 level 1 (frequent hanzi): lead bytes B0-D7; Big5 level 1: lead bytes A4-C6.
        if (codec == "gb18030" and 0xB0 <= encoded[0] <= 0xD7) or (
            codec != "gb18030" and 0xA4 <= encoded[0] <= 0xC6
        ):
            common += 1
    return common / len(hanzi)


def _guess_cjk(data: bytes) -> str | None:
    """GB18030 or Big5-HKSCS, whichever reads as more common characters; None if neither fits."""
    best: tuple[float, str] | None = None
    for codec in ("gb18030", "big5hkscs"):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        ratio = _common_ratio(text, codec)
        if best is None or ratio > best[0]:
            best = (ratio, text)
    # Latin-1 bytes also "decode" as rare CJK characters (L\xfctkebohle -> L黷kebohle).
    return best[1] if best is not None and best[0] >= 0.5 else None


def _repair_mojibake(text: str, codec: str) -> str:
    """Undo CJK bytes that a gateway read as Latin-1 and re-encoded as UTF-8 ("¤j¸É" -> "大補")."""
    if codec not in _CJK_CODECS or not any("\x80" <= c <= "\xff" for c in text):
        return text
    if any(c > "\xff" for c in text):
        return text
    try:
        repaired = text.encode("latin-1").decode(codec)
    except UnicodeError:
        return text
    return repaired if _common_ratio(repaired, codec) >= 0.8 else text


def decode_text(data: bytes, label: str | None = None) -> str:
    """Decode ``data`` following the module rules; never raises."""
    codec = codec_for(label)
    if _ASCII.fullmatch(data):
        if codec in _SEVEN_BIT and (b"\x1b" in data or b"~{" in data or b"+" in data):
            # Python lacks the vendor rows of CP50220 (circled numbers, №): replace just those.
            return data.decode(codec, errors="replace")
        return data.decode("ascii")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return _repair_mojibake(text, codec) if codec else text
    if codec and codec != "utf-8":
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            pass
    guessed = _guess_cjk(data)
    if guessed is not None:
        return guessed
    declared_utf8 = (label or "").strip().strip("\"'").lower().split("*")[0] in {"utf-8", "utf8"}
    if declared_utf8:
        return data.decode("utf-8", errors="replace")  # damaged UTF-8: keep what is readable
    if codec is None or codec == "utf-8":  # no label, or "us-ascii" on 8-bit bytes: Western legacy
        codec = "cp1252"
    try:
        return data.decode(codec, errors="replace")
    except LookupError:
        return data.decode("cp1252", errors="replace")
