"""Features of the linear sentiment model: jieba tokens plus character n-grams.

Training and scoring must see exactly the same features, so both go through :func:`features`.
Character n-grams make the model robust to segmentation differences (rule keywords change the
user dictionary) and catch short negated phrases (``不好``, ``不太满意``) that a bag of tokens
misses.
"""

from __future__ import annotations

from collections.abc import Sequence

NGRAMS: tuple[int, ...] = (1, 2)


def features(text: str, tokens: Sequence[str], ngrams: Sequence[int] = NGRAMS) -> list[str]:
    """Feature names of one normalized text (duplicates kept: counts matter).

    :meth:`LinearModel.margin` computes the same sum without building these strings."""
    out = [f"w:{t}" for t in tokens]
    compact = "".join(text.split())
    for n in ngrams:
        prefix = f"{n}:"
        out.extend(prefix + compact[i : i + n] for i in range(len(compact) - n + 1))
    return out
