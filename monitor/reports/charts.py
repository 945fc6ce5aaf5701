"""Charts as inline SVG (matplotlib, Agg) with text kept as text in Noto Sans CJK SC.

``svg.fonttype = "none"`` leaves labels as ``<text>`` with the font family named, so the browser
draws them with the same CJK font (and the SVG stays small and searchable).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.figure import Figure

CJK_FAMILY = "Noto Sans CJK SC"


class FontMissingError(RuntimeError):
    """The CJK font is not installed (Debian: ``apt-get install fonts-noto-cjk``)."""


# Where Debian's fonts-noto-cjk puts the font: registered directly when matplotlib's font cache
# was built before the package was installed (the cache is per user and is not rebuilt by itself).
CJK_FILES = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
)


def cjk_font_file() -> Path:
    """The font file matplotlib uses for the report's text; refuses a fallback font."""
    try:
        return Path(font_manager.findfont(CJK_FAMILY, fallback_to_default=False))
    except ValueError:
        pass
    for file in CJK_FILES:  # a stale font cache: register the installed files and look again
        if file.exists():
            font_manager.fontManager.addfont(str(file))
    try:
        return Path(font_manager.findfont(CJK_FAMILY, fallback_to_default=False))
    except ValueError:
        raise FontMissingError(
            f"找不到字体 {CJK_FAMILY} / font {CJK_FAMILY} not found: apt-get install fonts-noto-cjk"
        ) from None


def _style() -> dict[Any, Any]:
    cjk_font_file()
    return {
        "font.family": "sans-serif",
        "font.sans-serif": [CJK_FAMILY],
        "svg.fonttype": "none",
        "axes.unicode_minus": False,
        "svg.hashsalt": "yuqing",  # stable ids: the same data gives the same SVG
    }


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def line_chart(title: str, labels: Sequence[str], values: Sequence[float], ylabel: str) -> str:
    with plt.rc_context(_style()):
        figure, axes = plt.subplots(figsize=(8, 3))
        axes.plot(range(len(values)), list(values), marker="o", markersize=3, color="#c0392b")
        step = max(1, len(labels) // 10)
        axes.set_xticks(range(0, len(labels), step), [labels[i] for i in range(0, len(labels), step)], rotation=30)
        axes.set_title(title)
        axes.set_ylabel(ylabel)
        axes.grid(alpha=0.3)
        return _svg(figure)


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float], xlabel: str) -> str:
    with plt.rc_context(_style()):
        figure, axes = plt.subplots(figsize=(8, 0.4 * max(3, len(labels)) + 1))
        axes.barh(list(labels)[::-1], list(values)[::-1], color="#2c7fb8")
        axes.set_title(title)
        axes.set_xlabel(xlabel)
        axes.grid(axis="x", alpha=0.3)
        return _svg(figure)
