"""jieba's dictionary cut (``lcut(text, HMM=False)``) run by jieba-rs: the same tokens, ~15x faster.

jieba cuts a run of Chinese/Latin characters ("block") by building a DAG of every dictionary word
that starts at each position, choosing right to left the route of maximum summed log frequency
(``log(freq or 1) - log(total) + route[x + 1]``, ties to the longer word) and regrouping single
ASCII letters and digits; everything outside blocks is split on whitespace and then by character.
jieba-rs (through its Python binding ``rjieba``) implements the same algorithm with the same block
and whitespace patterns and the same floating-point operations in the same order, so given the same
word frequencies and the same ``total`` it returns the same tokens. :class:`DictCut` gives it
exactly jieba's table: every word with a non-zero frequency at that frequency, plus one sentinel
entry (``"\\x00"``, a character no block can contain) carrying the difference between jieba's
``total`` and the sum of those frequencies (jieba adds a re-added word's frequency to ``total``
twice, jieba-rs would not). The tests compare it with jieba's own ``lcut`` on every Unicode code
point and on the shared corpora with the default rules' words added.

Two inputs Rust strings cannot hold are handled here: lone surrogates (mail decoded with
``surrogateescape``) are cut around - each one is its own token, as in jieba, where they end a
block - and the cut never sees them.
"""

from __future__ import annotations

import re

import rjieba

SENTINEL = "\x00"  # never inside a block: carries the part of jieba's total no single word holds
_SURROGATES = re.compile("([\ud800-\udfff])")


class DictCut:
    """Cuts text as ``jieba.Tokenizer.lcut(text, HMM=False)`` would with the given ``FREQ``/``total``.

    ``freq`` is read once (jieba's prefix-only entries, frequency 0, are skipped); the caller may
    drop its table afterwards - the cutter holds its own, about a third of the size.
    """

    def __init__(self, freq: dict[str, int], total: int) -> None:
        cut: rjieba.Jieba = rjieba.Jieba.empty()  # type: ignore[no-untyped-call]  # stub lacks a return type
        add = cut.add_word
        held = 0
        for word, count in freq.items():
            if count:
                add(word, count, None)
                held += count
        if total > held:
            add(SENTINEL, total - held, None)
        self._cut = cut.cut

    def __call__(self, text: str) -> list[str]:
        try:
            return self._cut(text, False)
        except UnicodeEncodeError:  # lone surrogates: cut the pieces between them
            words: list[str] = []
            for k, part in enumerate(_SURROGATES.split(text)):
                if k & 1:
                    words.append(part)
                elif part:
                    words.extend(self._cut(part, False))
            return words
