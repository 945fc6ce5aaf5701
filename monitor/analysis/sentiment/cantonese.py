"""Cantonese words mapped to their Mandarin equivalents for the model (the lexicon reads Cantonese).

The shipped model was trained on Mandarin reviews: it knows that ``不值`` is negative but has
never seen ``唔值``, so it scores Cantonese by the characters it happens to share with Mandarin.
For text that is recognisably Cantonese (it contains a Cantonese-only character such as ``唔``,
``冇``, ``咗``, ``嘅``), the model reads a copy where common Cantonese characters are replaced one
for one by their Mandarin counterparts (``唔`` → ``不``, ``冇`` → ``没``, ``食`` → ``吃``,
``佢哋`` → ``他们``). One-for-one keeps the text aligned with its tokens, so no second
segmentation is needed. Characters that are also ordinary Mandarin (``系``, ``行``, ``晒``) are
left alone. Input is normalized (simplified) text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

MARKERS: Final = frozenset("唔冇咗嘅啲佢喺嘢睇咩噉嚟㗎喎啰嗰哋乜嬲攰揾搵")
_TABLE: Final = str.maketrans(
    {
        "唔": "不",
        "冇": "没",
        "咗": "了",
        "嘅": "的",
        "啲": "些",
        "佢": "他",
        "哋": "们",
        "喺": "在",
        "睇": "看",
        "食": "吃",
        "畀": "给",
        "俾": "给",
        "嚟": "来",
        "瞓": "睡",
        "攞": "拿",
        "搵": "找",
        "揾": "找",
        "揀": "选",
        "谂": "想",
        "靓": "美",
        "嬲": "气",
        "攰": "累",
        "嘈": "吵",
        "嗰": "那",
        "仲": "还",
        "乜": "啥",
    }
)


def is_cantonese(text: str) -> bool:
    return not MARKERS.isdisjoint(text)


def to_mandarin(text: str, tokens: Sequence[str]) -> tuple[str, list[str]]:
    """``text`` and ``tokens`` with Cantonese characters replaced one for one."""
    return text.translate(_TABLE), [t.translate(_TABLE) for t in tokens]
