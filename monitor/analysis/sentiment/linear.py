"""A small logistic-regression sentiment model (trained in pure Python; scored with numpy lookups).

Each text is a bag of features (:mod:`.features`), counts scaled to unit length; the model is a
weight per feature plus a bias. Training is AdaGrad SGD with L2 regularisation and class weights
(so an imbalanced training file does not teach the model to always say "negative"); it is
deterministic for a given seed. The model file is JSON: small, diffable and safe to load (no
pickle).
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path
from typing import Any

from monitor.analysis.sentiment.features import NGRAMS
from monitor.analysis.sentiment.grams import GramTable, codes, gram_key, pairs

FORMAT = "yuqing-linear-1"


def _vector(names: Sequence[str]) -> dict[str, float]:
    """Occurrence counts scaled by ``1/sqrt(number of occurrences)``."""
    scale = 1.0 / math.sqrt(len(names)) if names else 1.0
    out: dict[str, float] = {}
    for name in names:
        out[name] = out.get(name, 0.0) + scale
    return out


@dataclass(frozen=True)
class LinearModel:
    """Weights of a trained model; ``score`` maps a text to [-1, 1] (positive > 0)."""

    weights: dict[str, float]
    bias: float
    ngrams: tuple[int, ...] = NGRAMS
    meta: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        # Split the weights by feature kind once, so scoring looks raw slices up without
        # building prefixed strings (the token sum runs in C through map()). Character unigrams
        # and bigrams are keyed by code point (:mod:`.grams`): an int is cheaper to make and to
        # hash than a new one- or two-character string, and for a long mail (~1,900 of each) they
        # are looked up in a few array operations.
        kinds: dict[str, dict[str, float]] = {}
        for name, weight in self.weights.items():
            kind, _, key = name.partition(":")
            kinds.setdefault(kind, {})[key] = weight
        grams = {
            n: GramTable({gram_key(g): w for g, w in kinds.pop(str(n), {}).items() if len(g) == n})
            for n in (1, 2)
        }
        object.__setattr__(self, "_kinds", kinds)
        object.__setattr__(self, "_grams", grams)
        object.__setattr__(self, "_orders", sorted(n for n in set(self.ngrams) if n >= 1))

    def margin(self, text: str, tokens: Sequence[str]) -> float:
        """``bias + w·x`` with x = feature counts / sqrt(number of features), as in training.

        The sums run over the features in the order :func:`~.features.features` lists them, one
        kind after the other, with Python's ``sum``, so the result is the same float; a feature
        without a weight adds nothing (``0.0``), whatever its key looks like, and is skipped."""
        kinds: dict[str, dict[str, float]] = self._kinds  # type: ignore[attr-defined]
        grams: dict[int, GramTable] = self._grams  # type: ignore[attr-defined]
        compact = "".join(text.split())
        total = sum(map(kinds.get("w", {}).get, tokens, repeat(0.0)))
        count = len(tokens)
        points = codes(compact) if compact else None
        for n in self._orders:  # type: ignore[attr-defined]
            if points is None or n > len(compact):
                continue  # no gram of this order: adds nothing, counts nothing
            if n == 1:
                total += grams[1].total(points)
            elif n == 2:
                total += grams[2].total(pairs(points))
            else:
                strings = (compact[i : i + n] for i in range(len(compact) - n + 1))
                total += sum(map(kinds.get(str(n), {}).get, strings, repeat(0.0)))
            count += len(compact) - n + 1
        return self.bias + (total / math.sqrt(count) if count else 0.0)

    def score(self, text: str, tokens: Sequence[str]) -> float:
        """``2 * P(positive) - 1``, i.e. ``tanh(margin / 2)``."""
        return math.tanh(self.margin(text, tokens) / 2.0)

    def save(self, path: Path) -> None:
        data = {
            "format": FORMAT,
            "ngrams": list(self.ngrams),
            "bias": round(self.bias, 5),
            "meta": self.meta or {},
            "weights": {k: round(v, 4) for k, v in sorted(self.weights.items())},
        }
        path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"{path}: not a {FORMAT} model file")
        return cls(
            weights={str(k): float(v) for k, v in data["weights"].items()},
            bias=float(data["bias"]),
            ngrams=tuple(int(n) for n in data.get("ngrams", NGRAMS)),
            meta=dict(data.get("meta", {})),
        )


@dataclass(frozen=True, slots=True)
class TrainConfig:
    epochs: int = 6
    learning_rate: float = 0.2
    l2: float = 1e-5
    min_df: int = 2
    max_features: int = 60000
    seed: int = 13
    ngrams: tuple[int, ...] = NGRAMS


def train(samples: Sequence[tuple[Sequence[str], int]], config: TrainConfig | None = None) -> LinearModel:
    """Fit on ``(feature names, label)`` pairs, label 1 = positive, 0 = negative."""
    cfg = config or TrainConfig()
    df: Counter[str] = Counter()
    for names, _ in samples:
        df.update(set(names))
    keep = {name for name, n in df.items() if n >= cfg.min_df}
    data = [({k: v for k, v in _vector(names).items() if k in keep}, y) for names, y in samples]
    n_pos = sum(y for _, y in data) or 1
    n_neg = (len(data) - n_pos) or 1
    class_weight = {1: len(data) / (2 * n_pos), 0: len(data) / (2 * n_neg)}
    w: dict[str, float] = {}
    g2: dict[str, float] = {}
    bias, bias_g2 = 0.0, 0.0
    order = list(range(len(data)))
    rng = random.Random(cfg.seed)
    lr, l2 = cfg.learning_rate, cfg.l2
    for _ in range(cfg.epochs):
        rng.shuffle(order)
        for i in order:
            x, y = data[i]
            z = bias + sum(w.get(f, 0.0) * v for f, v in x.items())
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
            grad = (p - y) * class_weight[y]
            bias_g2 += grad * grad
            bias -= lr * grad / math.sqrt(bias_g2 + 1e-8)
            for f, v in x.items():
                wf = w.get(f, 0.0)
                g = grad * v + l2 * wf
                acc = g2.get(f, 0.0) + g * g
                g2[f] = acc
                w[f] = wf - lr * g / math.sqrt(acc + 1e-8)
    top = sorted(w.items(), key=lambda kv: -abs(kv[1]))[: cfg.max_features]
    weights = {k: v for k, v in top if abs(v) >= 1e-3}
    meta = {
        "samples": len(data),
        "positive": n_pos,
        "negative": n_neg,
        "seed": cfg.seed,
        "epochs": cfg.epochs,
    }
    return LinearModel(weights, bias, cfg.ngrams, meta)
