"""A post's near-duplicate features, as 63-bit hashes: clean, normalise, cut, hash - in bulk.

Reposts and copy-paste complaints differ in the noise around the story - ``//@user:`` repost
chains, ``RT @user:``, mentions, links, ``#hashtags#`` - so that noise is stripped first. Text is
then normalised (NFKC, case-folded, traditional -> simplified with OpenCC, as the analysis stage
does) and cut into features: overlapping character bigrams for CJK runs (robust to segmentation
and to trad/simp variants, several times faster than a dictionary segmenter) and whole words for
Latin script.

:func:`features` is the definition, as strings; :func:`feature_hashes` computes the same set as
hashes without making a string per feature (a long mail has ~1,000): the code points go into a
numpy array, a CJK feature is its one or two code points packed into an integer (``a << 21 | b``),
a word is its 8-byte BLAKE2b with the top bit set (so it never equals a packed code), and every
value goes through the splitmix64 finaliser - arithmetic, so the same in every process, unlike
``hash()``. :func:`feature_hash` is that per-feature definition for one string (tests, tools).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import numpy as np
import numpy.typing as npt
import opencc

MAX_FEATURES = 2000  # of the features in text order (CJK first, then words), as ever
MASK63 = (1 << 63) - 1

_REPOST_CHAIN = re.compile(r"//\s*@[^:：\s]{1,30}\s*[:：]")
_RETWEET = re.compile(r"^\s*(?:RT|转发微博|轉發微博|Repost)\s*(?:@[^:：\s]{1,30}\s*[:：])?", re.IGNORECASE)
_MENTION = re.compile(r"@[\w\-.\u3400-\u9fff]{1,30}")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_HASHTAG = re.compile(r"#[^#\n]{1,60}#|#\w+")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[a-z0-9][a-z0-9'_-]*")
_WORD_BYTES = re.compile(rb"[a-z0-9][a-z0-9'_-]*")
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789'_-")
_CONVERTER = opencc.OpenCC("t2s")
_WWW = ("ww", "wW", "Ww", "WW")

_U64 = np.uint64
_GOLDEN, _MIX1, _MIX2 = _U64(0x9E3779B97F4A7C15), _U64(0xBF58476D1CE4E5B9), _U64(0x94D049BB133111EB)
_SHIFTS = (_U64(30), _U64(27), _U64(31), _U64(21))
_WORD_TAG = 1 << 63
_SHORT = 200  # characters: below, NFKC directly
_CJK_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))  # as _CJK_RUN


def strip_noise(text: str) -> str:
    """Remove repost chains, retweet prefixes, mentions, URLs and hashtags. Each pattern runs only
    when the literal it needs is in the text (a pattern scan costs ~15 ns a character)."""
    if _RETWEET.match(text):  # anchored: one match at most, at the start
        text = _RETWEET.sub(" ", text, count=1)
    if "//" in text:
        text = _REPOST_CHAIN.sub(" ", text)
    if "://" in text or ("." in text and any(www in text for www in _WWW)):
        text = _URL.sub(" ", text)
    if "#" in text:
        text = _HASHTAG.sub(" ", text)
    return _MENTION.sub(" ", text) if "@" in text else text


def normalise(text: str) -> str:
    return str(_CONVERTER.convert(unicodedata.normalize("NFKC", text).casefold()))


def features(text: str) -> set[str]:
    """Bigrams of CJK runs plus Latin words, after stripping noise and normalising."""
    clean = normalise(strip_noise(text))
    out: list[str] = []
    for run in _CJK_RUN.findall(clean):
        if len(run) == 1:
            out.append(run)
        else:
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
    out.extend(_WORD.findall(_CJK_RUN.sub(" ", clean)))
    return set(out[:MAX_FEATURES])


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _mix(value: int) -> int:
    """splitmix64's finaliser on one value, top bit cleared (fits a signed BIGINT)."""
    mask = (1 << 64) - 1
    value = (value + int(_GOLDEN)) & mask
    value = ((value ^ (value >> 30)) * int(_MIX1)) & mask
    value = ((value ^ (value >> 27)) * int(_MIX2)) & mask
    return (value ^ (value >> 31)) & MASK63


def feature_hash(feature: str) -> int:
    """The hash of one feature of :func:`features`: what :func:`feature_hashes` computes in bulk."""
    if _CJK_RUN.fullmatch(feature):
        code = ord(feature[0]) if len(feature) == 1 else ord(feature[0]) << 21 | ord(feature[1])
    else:
        digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
        code = int.from_bytes(digest, "little") | _WORD_TAG
    return _mix(code)


def _mix_all(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """:func:`_mix` on an array (uint64 arithmetic wraps, as the masks above do)."""
    values = values + _GOLDEN
    values = (values ^ (values >> _SHIFTS[0])) * _MIX1
    values = (values ^ (values >> _SHIFTS[1])) * _MIX2
    return (values ^ (values >> _SHIFTS[2])) & _U64(MASK63)


def _lookup_tables() -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.bool_]]:
    """Per BMP code point: what NFKC makes of it where that is one ASCII character or only ASCII
    separators (full-width forms, ideographic space, ``…``), else itself; and whether it is CJK."""
    nfkc = np.arange(0x10000, dtype=np.uint32)
    for block in (range(0x2000, 0x2070), range(0x3000, 0x3040), range(0xFE10, 0xFE70), range(0xFF00, 0xFFF0)):
        for point in block:
            made = unicodedata.normalize("NFKC", chr(point))
            if made == chr(point) or not made.isascii() or unicodedata.combining(chr(point)):
                continue
            if len(made) == 1 or not _WORD_CHARS.intersection(made.lower()):  # "." for "…": a separator too
                nfkc[point] = ord(made[0])
    cjk = np.zeros(0x10000, dtype=np.bool_)
    for first, last in _CJK_RANGES:
        cjk[first : last + 1] = True
    return nfkc, cjk


_NFKC_LUT, _IS_CJK = _lookup_tables()


def _code_points(text: str) -> npt.NDArray[np.uint32]:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _bmp(points: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    return np.minimum(points, np.uint32(0xFFFF))  # beyond the BMP: looked up as U+FFFF (neither table's)


def clean_text(text: str) -> str:
    """``normalise(strip_noise(text))`` up to separators, so with the same features: the common
    compatibility forms are mapped by table first, and NFKC runs only on what is still not NFKC."""
    text = strip_noise(text)
    if text.isascii():
        return text.lower()  # NFKC, casefold and t2s of ASCII: lower()
    if len(text) < _SHORT:
        text = unicodedata.normalize("NFKC", text)  # cheaper than the table on a short text
    elif not unicodedata.is_normalized("NFKC", text):
        points = _code_points(text)
        mapped = _NFKC_LUT[_bmp(points)]
        if (mapped != points).any():
            mapped = np.where(points > 0xFFFF, points, mapped)
            text = mapped.tobytes().decode("utf-32-le", "surrogatepass")
        if not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
    return str(_CONVERTER.convert(text.casefold()))


def _cjk_codes(clean: str) -> npt.NDArray[np.uint64]:
    """The CJK features of a clean text in text order: each run's overlapping bigrams as
    ``a << 21 | b``, a one-character run as its code point."""
    points = _code_points(f" {clean} ").astype(np.uint64)  # a separator either side: no edge cases
    padded = _IS_CJK[np.minimum(points, _U64(0xFFFF))]
    cjk, before, after = padded[1:-1], padded[:-2], padded[2:]
    starts = cjk & (after | ~before)  # a bigram starts here, or a run of one is here
    here = points[1:-1]
    codes = np.where(after, (here << _SHIFTS[3]) | points[2:], here)
    return codes[starts]


def feature_hashes(text: str) -> npt.NDArray[np.uint64]:
    """``{feature_hash(f) for f in features(text)}``, sorted ascending, computed in bulk."""
    clean = clean_text(text)
    codes = _cjk_codes(clean) if not clean.isascii() else np.zeros(0, dtype=np.uint64)
    room = MAX_FEATURES - len(codes)
    if room > 0:
        words = _WORD_BYTES.findall(clean.encode("ascii", "replace"))[:room]  # non-ASCII: separators
        if words:
            digests = b"".join([hashlib.blake2b(word, digest_size=8).digest() for word in set(words)])
            tagged = np.frombuffer(digests, dtype="<u8") | _U64(_WORD_TAG)
            codes = np.concatenate((codes, tagged))
    else:
        codes = codes[:MAX_FEATURES]
    hashes = np.sort(_mix_all(codes))
    if len(hashes) < 2:
        return hashes
    distinct = np.empty(len(hashes), dtype=np.bool_)
    distinct[0] = True
    np.not_equal(hashes[1:], hashes[:-1], out=distinct[1:])
    return hashes[distinct]
