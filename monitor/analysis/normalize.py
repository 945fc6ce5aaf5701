"""Text normalization: a chain of small steps that keeps a map back to the original text.

Rule authors write one keyword and expect it to catch the same word written in traditional
characters, full-width, upper case, with zero-width characters or separators inserted, or with the
pinyin annotations that copy-pasted documents carry. Every step is a callable ``Text -> Text``
(configuration in ``__init__``, work in ``__call__``) and can be tested alone.

A :class:`Text` carries, for every normalized character, the span of original characters it came
from, so a match found in normalized text is reported with offsets into the *original* text.
Steps return their input unchanged (the same object) when they have nothing to do, which keeps the
common case - clean simplified Chinese - cheap.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import ClassVar, Final

import opencc

CJK_CLASS: Final = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE: Final = re.compile(f"[{CJK_CLASS}]")
_OFFSETS: Final = tuple(range(8193))  # the int objects of the offset maps of texts up to 8,192 characters


def _offsets(a: int, b: int) -> Sequence[int]:
    """``range(a, b)`` as int objects: a slice of :data:`_OFFSETS` (no new ints) when it reaches that far."""
    return _OFFSETS[a:b] if b < len(_OFFSETS) else range(a, b)


@dataclass(frozen=True, slots=True)
class Text:
    """Normalized text plus, per character, the original span ``[starts[i], ends[i])`` it came from.

    ``starts``/``ends`` are ``None`` while the text is still character-aligned with the original
    (identity map), so steps that change nothing cost no allocation.
    """

    value: str
    original: str
    starts: tuple[int, ...] | None = None
    ends: tuple[int, ...] | None = None

    @classmethod
    def of(cls, original: str) -> Text:
        return cls(original, original)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original offsets of the normalized span ``[start, end)``."""
        if self.starts is None or self.ends is None:
            return start, end
        if start >= end:
            at = self.starts[start] if start < len(self.starts) else len(self.original)
            return at, at
        return self.starts[start], self.ends[end - 1]

    def derive(self, value: str, source: Sequence[int]) -> Text:
        """A new Text whose character ``i`` comes from character ``source[i]`` of this one."""
        if len(source) != len(value):
            raise ValueError("source map must have one entry per character")
        if self.starts is None or self.ends is None:
            starts = tuple(source)
            ends = tuple(map((1).__add__, source))
        else:
            starts = tuple(map(self.starts.__getitem__, source))
            ends = tuple(map(self.ends.__getitem__, source))
        return Text(value, self.original, starts, ends)

    def keep(self, segments: Sequence[tuple[int, int]]) -> Text:
        """The text made of the segments ``[a, b)`` of this one (in order, not overlapping): what
        :meth:`derive` gives for the concatenated ranges, built from slices instead of per character."""
        value = "".join([self.value[a:b] for a, b in segments])
        if self.starts is None or self.ends is None:
            starts: list[int] = []
            ends: list[int] = []
            for a, b in segments:
                starts += _offsets(a, b)
                ends += _offsets(a + 1, b + 1)
            return Text(value, self.original, tuple(starts), tuple(ends))
        old_starts, old_ends = self.starts, self.ends
        return Text(
            value,
            self.original,
            tuple(chain.from_iterable([old_starts[a:b] for a, b in segments])),
            tuple(chain.from_iterable([old_ends[a:b] for a, b in segments])),
        )

    def derive_spans(self, value: str, spans: Sequence[tuple[int, int]]) -> Text:
        """Like :meth:`derive` but each new character comes from a span ``[a, b)`` of this text."""
        if self.starts is None or self.ends is None:
            starts = tuple(a for a, _ in spans)
            ends = tuple(b for _, b in spans)
        else:
            starts = tuple(self.starts[a] for a, _ in spans)
            ends = tuple(self.ends[b - 1] for _, b in spans)
        return Text(value, self.original, starts, ends)


Step = Callable[[Text], Text]
"""A normalization step: one signature for all of them."""


def _per_char(text: Text, convert: Callable[[str], str]) -> Text:
    """Apply ``convert`` to every character, tracking expansions and deletions."""
    out: list[str] = []
    source: list[int] = []
    for i, ch in enumerate(text.value):
        new = convert(ch)
        out.append(new)
        source.extend([i] * len(new))
    return text.derive("".join(out), source)


class RepairMojibake:
    """Undo UTF-8 bytes that were decoded as GBK (``投诉`` read as ``鎶曡瘔``).

    The text is repaired when it re-encodes to GB18030 and those bytes decode as strict UTF-8 into
    shorter text that contains CJK characters; genuine Chinese text practically never passes that
    test (its GBK bytes are not valid UTF-8). ASCII is the same in both encodings, so ASCII mixed
    into the mojibake survives. Each repaired character maps to the garbled characters its bytes
    came from.
    """

    def __call__(self, text: Text) -> Text:
        value = text.value
        if value.isascii():
            return text
        # One attempt on the whole string (C speed): genuine Chinese fails at its first character.
        # Texts that mix mojibake with correctly decoded non-ASCII text are left alone.
        repaired = self._repair_run(value)
        if repaired is None:
            return text
        return text.derive_spans("".join(ch for ch, _ in repaired), [span for _, span in repaired])

    @staticmethod
    def _repair_run(run: str) -> list[tuple[str, tuple[int, int]]] | None:
        try:
            raw = run.encode("gb18030")
            fixed = raw.decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return None
        if not _CJK_RE.search(fixed) or len(fixed) >= len(run):
            return None
        # byte offset -> index of the garbled character that produced it
        owner: list[int] = []
        for i, ch in enumerate(run):
            owner.extend([i] * len(ch.encode("gb18030")))
        result: list[tuple[str, tuple[int, int]]] = []
        pos = 0
        for ch in fixed:
            size = len(ch.encode("utf-8"))
            result.append((ch, (owner[pos], owner[pos + size - 1] + 1)))
            pos += size
        return result


class StripInvisible:
    """Remove zero-width, bidi-control, soft-hyphen and C0/C1 control characters (keeps \\t \\n \\r)."""

    _INVISIBLE = re.compile(
        "[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
    )

    def __call__(self, text: Text) -> Text:
        value = text.value
        if not self._INVISIBLE.search(value):
            return text
        source = [i for i, ch in enumerate(value) if not self._INVISIBLE.match(ch)]
        return text.derive("".join(map(value.__getitem__, source)), source)


class Nfkc:
    """Unicode NFKC per character: full-width letters, digits and punctuation become ASCII.

    Long Chinese text carries full-width punctuation in every sentence but few other characters
    NFKC changes, so the full-width forms are replaced with ``str.replace`` (one C scan per form
    present; several times faster than ``str.translate`` on non-ASCII text) and the rest are
    found with one regex scan and replaced one by one."""

    # Full-width ASCII and the ideographic space: the common case, mapped 1:1.
    _FULL_WIDTH: ClassVar[dict[int, int]] = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}

    def __call__(self, text: Text) -> Text:
        value = text.value
        if unicodedata.is_normalized("NFKC", value):
            return text
        narrowed = value
        for wide in set(_FULL_WIDTH_RE.findall(value)):  # 1:1 into ASCII, never a source: as translate
            narrowed = narrowed.replace(wide, chr(self._FULL_WIDTH[ord(wide)]))
        if narrowed != value:
            text = Text(narrowed, text.original, text.starts, text.ends)
            value = narrowed
            if unicodedata.is_normalized("NFKC", value):
                return text
        table, changed = _nfkc_table(astral=_ASTRAL.search(value) is not None)
        pieces: list[str] = []
        resized = False  # a character became several (``…`` → ``...``): the offset map changes
        last = 0
        for m in changed.finditer(value):
            i = m.start()
            new = table[ord(value[i])]
            pieces += (value[last:i], new)
            resized = resized or len(new) != 1
            last = i + 1
        pieces.append(value[last:])
        result = "".join(pieces)
        if not resized:
            return Text(result, text.original, text.starts, text.ends)
        source, ends = _expanded_source(value, table, changed)
        if text.starts is None:  # the identity map: ``derive`` would compute exactly these
            return Text(result, text.original, tuple(source), tuple(ends))
        return text.derive(result, source)


def _expanded_source(value: str, table: dict[int, str], changed: re.Pattern[str]) -> tuple[list[int], list[int]]:
    """For each character of the NFKC result, the index in ``value`` it comes from (and that
    index + 1, the end of its span when ``value`` is the original)."""
    source: list[int] = []
    ends: list[int] = []
    last = 0
    for m in changed.finditer(value):
        i = m.start()
        size = len(table[ord(value[i])])
        source += _offsets(last, i)
        source += [i] * size
        ends += _offsets(last + 1, i + 1)
        ends += [i + 1] * size
        last = i + 1
    source += _offsets(last, len(value))
    ends += _offsets(last + 1, len(value) + 1)
    return source, ends


_FULL_WIDTH_RE = re.compile("[\\uff01-\\uff5e\\u3000]")
_ASTRAL = re.compile("[\\U00010000-\\U0010ffff]")


@functools.cache
def _nfkc_table(*, astral: bool) -> tuple[dict[int, str], re.Pattern[str]]:
    """``{code point: NFKC of that character}`` for every character NFKC changes (about 4,900),
    and a pattern of those characters: the Basic Multilingual Plane's only (a fast scan), or all of
    them for text with characters beyond it. Built once per process (~0.15 s)."""
    table: dict[int, str] = {}
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        if not unicodedata.is_normalized("NFKC", ch):
            new = unicodedata.normalize("NFKC", ch)
            if new != ch:
                table[cp] = new
    wanted = sorted(cp for cp in table if astral or cp <= 0xFFFF)
    runs: list[list[int]] = []
    for cp in wanted:
        if runs and runs[-1][1] == cp - 1:
            runs[-1][1] = cp
        else:
            runs.append([cp, cp])
    ranges = "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in runs)
    return table, re.compile(f"[{ranges}]")


class CaseFold:
    """Unicode case folding (``Refund`` and ``REFUND`` match ``refund``)."""

    def __call__(self, text: Text) -> Text:
        folded = text.value.casefold()
        if folded == text.value:
            return text
        if len(folded) == len(text.value):  # no expansion: the map is unchanged
            return Text(folded, text.original, text.starts, text.ends)
        return _per_char(text, str.casefold)


_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
_PINYIN_LETTERS = f"a-zü{_TONED}"


class BlankLinks:
    """Blank out web links (``https://www.youtube.com/watch?v=…``, ``www.weibo.com/n/某人``): a link
    is a reference, not words the author wrote, so ``youtube`` in a video link or a name in a
    profile link is no keyword hit. Same length, so offsets into the original text are kept."""

    _LINK = re.compile(r"(?:https?://|www\.)[^\s<>\"'（）()\[\]{}，。！？、；]+")

    def __call__(self, text: Text) -> Text:
        value = text.value
        if "http" not in value and "www." not in value:
            return text
        blanked = self._LINK.sub(lambda m: " " * len(m.group(0)), value)
        if blanked == value:
            return text
        return text.derive(blanked, range(len(blanked)))


class StripPinyinAnnotation:
    """Remove inline pinyin after CJK characters: ``繼續(xù)`` → ``繼續``, ``投訴(sù)`` → ``投訴``.

    Only a parenthesised group of pinyin syllables carrying tone marks or tone digits is removed,
    so ordinary parenthesised words (``客服(小王)``, ``(abc)``) stay.
    """

    _ANNOTATION = re.compile(
        f"(?<=[{CJK_CLASS}])\\(\\s*([{_PINYIN_LETTERS}]+[1-5]?(?:[\\s,]+[{_PINYIN_LETTERS}]+[1-5]?)*)\\s*\\)"
    )
    _SYLLABLE = re.compile(f"^(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?[aeiouüv{_TONED}]+(?:ng|n|r)?[1-5]?$")
    _HAS_TONE = re.compile(f"[{_TONED}]|[1-5]$")

    def __call__(self, text: Text) -> Text:
        value = text.value
        if "(" not in value:
            return text
        drop: list[tuple[int, int]] = [
            (m.start(), m.end()) for m in self._ANNOTATION.finditer(value) if self._is_pinyin(m.group(1))
        ]
        if not drop:
            return text
        source: list[int] = []
        last = 0
        for a, b in drop:
            source.extend(range(last, a))
            last = b
        source.extend(range(last, len(value)))
        return text.derive("".join(map(value.__getitem__, source)), source)

    def _is_pinyin(self, group: str) -> bool:
        syllables = [s for s in re.split(r"[\s,]+", group) if s]
        return all(self._SYLLABLE.match(s) for s in syllables) and any(
            self._HAS_TONE.search(s) for s in syllables
        )


class TraditionalToSimplified:
    """Fold traditional characters to simplified with OpenCC (``t2s``): ``投訴`` → ``投诉``.

    OpenCC converts phrases, which can change the length; in that rare case the step converts
    character by character instead so that the offset map stays exact.
    """

    def __init__(self, config: str = "t2s") -> None:
        self._converter = opencc.OpenCC(config)

    def __call__(self, text: Text) -> Text:
        value = text.value
        if value.isascii() or not _CJK_RE.search(value):
            return text
        converted: str = self._converter.convert(value)
        if converted == value:
            return text
        if len(converted) == len(value):
            return Text(converted, text.original, text.starts, text.ends)
        return _per_char(text, self._converter.convert)


class CollapseSeparators:
    """Remove separator noise between two CJK characters: ``故 障``, ``故-障``, ``故*障`` → ``故障``.

    Sentence punctuation (``，。！？；：、`` and their NFKC forms) is kept: it carries clause
    boundaries that negation and proximity rely on, and nobody evades a filter with a comma.
    """

    _SEPARATORS = "[\\s\\-_*.·•|/\\\\~+#^=`'\"]"
    # a run of up to 8 separators followed by a Chinese character (starts at a separator: the regex
    # engine skips to candidates in C); the run must also follow a Chinese character, checked per run
    _NOISE = re.compile(f"{_SEPARATORS}{{1,8}}(?=[{CJK_CLASS}])")

    def __call__(self, text: Text) -> Text:
        value = text.value
        cjk = _CJK_RE.match
        drop = [m.span() for m in self._NOISE.finditer(value) if m.start() and cjk(value, m.start() - 1)]
        if not drop:
            return text
        kept: list[tuple[int, int]] = []
        last = 0
        for a, b in drop:
            kept.append((last, a))
            last = b
        kept.append((last, len(value)))
        return text.keep(kept)


class CollapseSpacedDigits:
    """Join single digits written apart to dodge a filter: ``3 1 5``, ``3-1-5``, ``3.1.5`` → ``315``.

    Only runs of three or more *single* digits are joined, so prices (``3.15``), dates
    (``2024-1-5``) and phone numbers written in groups keep their separators. Runs after NFKC, so
    full-width ``３ １ ５`` is covered too.
    """

    _SPACED = re.compile(r"(?<![\d.])\d(?:[ \-_.·*/]{1,2}\d){2,}(?!\d)")
    _QUICK = re.compile(r"\d[ \-_.·*/]{1,2}\d[ \-_.·*/]")  # cheap pre-check without look-arounds
    _SEPARATOR = re.compile(r"[ \-_.·*/]")

    def __call__(self, text: Text) -> Text:
        value = text.value
        if not self._QUICK.search(value) or not self._SPACED.search(value):
            return text
        source: list[int] = []
        last = 0
        for m in self._SPACED.finditer(value):
            source.extend(range(last, m.start()))
            source.extend(i for i in range(m.start(), m.end()) if not self._SEPARATOR.match(value[i]))
            last = m.end()
        source.extend(range(last, len(value)))
        return text.derive("".join(map(value.__getitem__, source)), source)


def default_steps() -> tuple[Step, ...]:
    """The standard chain, in order. Mojibake repair first: it needs the bytes as they arrived."""
    return (
        RepairMojibake(),
        StripInvisible(),
        Nfkc(),
        CaseFold(),
        BlankLinks(),
        StripPinyinAnnotation(),
        TraditionalToSimplified(),
        CollapseSeparators(),
        CollapseSpacedDigits(),
    )


class Normalizer:
    """Runs a chain of steps over a string."""

    def __init__(self, steps: Sequence[Step] | None = None) -> None:
        self.steps: tuple[Step, ...] = tuple(steps) if steps is not None else default_steps()

    def __call__(self, original: str) -> Text:
        text = Text.of(original)
        for step in self.steps:
            text = step(text)
        return text

    def word(self, keyword: str) -> str:
        """Normalize a rule keyword the same way as message text."""
        return self(keyword).value.strip()
