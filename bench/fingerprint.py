"""Near-duplicate fingerprints (issue 16): CPU per text and quality, against another checkout.

    git archive <rev> | tar -x -C /tmp/yuqing-base      # the code to compare against
    .venv/bin/python bench/fingerprint.py --baseline-code /tmp/yuqing-base [--mails 2000] [--posts 5000]

Both checkouts run as child processes of the same run on the same texts (written to a temporary
file by the parent), each computing ``monitor.tickets.fingerprint.fingerprint`` with its cache
cleared before every text:

* **CPU** per fingerprint (``time.process_time``, best of ``--rounds``) for long generated mails
  (``tests/helpers/mailbox.py``, the Maildir ``bench/realwork.py`` caches), short generated posts
  (``tests/helpers/workload.py``) and real posts and reviews from ``shared/data/sentiment``;
* **clusters**: each corpus fed as one stream into ``ClusterIndex`` at 0.6 (how many groups);
* **quality** on pairs built from the real posts and the mails - reposts (``转发微博//@u:``), a
  comment chain with a hashtag and a link, traditional characters, edits (a tenth of the
  characters replaced, a clause dropped), a truncation, and unrelated pairs: the exact Jaccard
  of the two feature sets against each checkout's estimate (mean and 95th percentile of the
  absolute error), the LSH candidate recall (the pair shares a band key) among pairs whose exact
  similarity reaches ``--threshold`` (the default ``incidents.similarity``), and the pairs that
  would join (candidate and estimate at the threshold) among those below ``threshold - 0.2``.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = Path("/work/shared/data")
COMMENTS = ("同样遭遇", "顶", "太过分了", "我也是", "转发", "求解决", "+1", "气死了")


def child(code: Path, corpus_file: Path, out: Path, rounds: int) -> None:
    """Measure the checkout at ``code``: CPU per text per corpus, and each pair's estimate."""
    sys.path.insert(0, str(code))
    from monitor.tickets import fingerprint as module

    corpus = json.loads(corpus_file.read_text(encoding="utf-8"))
    cpu: dict[str, float] = {}
    for name, texts in corpus["texts"].items():
        module.fingerprint("预热 warm up")
        best = float("inf")
        for _ in range(rounds):
            started = time.process_time()
            for text in texts:
                module._recent.clear()
                module.fingerprint(text)
            best = min(best, time.process_time() - started)
        cpu[name] = best / len(texts)
    from monitor.tickets.clusters import ClusterIndex

    clusters: dict[str, int] = {}
    for name, texts in corpus["texts"].items():  # each corpus as one stream of posts, threshold 0.6
        index = ClusterIndex(0.6)
        for text in texts:
            made = module.fingerprint(text)
            if not made.empty:
                index.assign(made)
        clusters[name] = len(index)
    pairs = []
    for a, b, _kind in corpus["pairs"]:
        fa, fb = module.fingerprint(a), module.fingerprint(b)
        pairs.append((fa.similarity(fb.sketch), bool(set(fa.keys) & set(fb.keys))))
    out.write_text(json.dumps({"cpu": cpu, "clusters": clusters, "pairs": pairs, "module": module.__file__}))


def _reviews(path: Path, column: str, low: int, high: int) -> list[str]:
    with open(path, encoding="utf-8", newline="") as handle:
        texts = dict.fromkeys(row[column].strip() for row in csv.DictReader(handle))
    return [t for t in texts if low <= len(t) <= high]


def _edit(rng: random.Random, text: str) -> str:
    chars = list(text)
    for at in rng.sample(range(len(chars)), max(1, len(chars) // 10)):
        chars[at] = rng.choice(text)
    out = "".join(chars)
    clauses = out.split("，")
    if len(clauses) > 2:
        del clauses[rng.randrange(len(clauses))]
    return "，".join(clauses)


def _variants(rng: random.Random, text: str, number: int, other: str) -> list[tuple[str, str, str]]:
    import opencc

    traditional = opencc.OpenCC("s2t").convert(text)
    return [
        (text, f"转发微博//@用户{number}: {text}", "repost"),
        (text, f"{rng.choice(COMMENTS)}//@用户{number}:{text} #投诉# http://t.cn/{number}", "comment chain"),
        (text, traditional, "traditional"),
        (text, _edit(rng, text), "edited"),
        (text, text[: int(len(text) * 0.8)], "truncated"),
        (text, other, "unrelated"),
    ]


def _mail_variants(rng: random.Random, mail: str, other: str) -> list[tuple[str, str, str]]:
    paragraphs = mail.split("\n\n")
    dropped = "\n\n".join(p for i, p in enumerate(paragraphs) if i != rng.randrange(len(paragraphs)))
    return [
        (mail, dropped + "\n\n补充：今天又打了一次电话。", "mail: paragraph dropped"),
        (mail, _edit(rng, mail), "mail: edited"),
        (mail, other, "mail: unrelated"),
    ]


def corpus(mails: int, posts: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    import realwork

    from tests.helpers.workload import generate

    long_mail = [f"{m.title} {m.text}" for m in realwork._parsed(realwork.mailbox(Path(), mails), "maildir")]
    folder = Path(tempfile.mkdtemp(prefix="fp-posts-"))
    generate(folder / "in", messages=posts, threads=max(200, posts // 10), files=1, seed=posts)
    generated = [f"{row.get('title') or ''} {row['text']}" for path in sorted((folder / "in").rglob("*.jsonl"))
                 for row in map(json.loads, path.read_text(encoding="utf-8").splitlines())]
    waimai = _reviews(DATA / "sentiment" / "waimai_10k.csv", "review", 10, 200)
    shopping = _reviews(DATA / "sentiment" / "online_shopping_10_cats.no_hotel.csv", "review", 60, 600)
    rng = random.Random(16)
    pairs: list[tuple[str, str, str]] = []
    for number, text in enumerate(rng.sample(waimai, 600) + rng.sample(shopping, 600)):
        pairs += _variants(rng, text, number, rng.choice(waimai if len(text) <= 200 else shopping))
    picked = long_mail[:400]
    for number, mail in enumerate(picked):
        pairs += _mail_variants(rng, mail, picked[(number + 1) % len(picked)])
    return {
        "texts": {"long mail (generated)": long_mail, "short post (generated)": generated[:posts],
                  "real post (waimai)": waimai[:posts], "real review (shopping)": shopping[:posts]},
        "pairs": pairs,
    }


def _run(code: Path, corpus_file: Path, rounds: int) -> dict[str, Any]:
    out = corpus_file.with_suffix(f".{abs(hash(str(code)))}.json")
    subprocess.run(
        [sys.executable, __file__, "--child", str(code), "--corpus", str(corpus_file), "--out", str(out),
         "--rounds", str(rounds)],
        check=True,
    )
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def _quality(pairs: list[list[str]], results: dict[str, dict[str, Any]], threshold: float) -> None:
    from monitor.tickets.fingerprint import features, jaccard

    exact = [jaccard(features(a), features(b)) for a, b, _ in pairs]
    kinds = list(dict.fromkeys(kind for _, _, kind in pairs))
    names = list(results)
    print(f"\nquality: exact Jaccard of the feature sets vs each checkout's estimate; threshold {threshold}")
    header = (f"{'pairs':<26} {'n':>5} {'exact J':>8} | " + " | ".join(
        f"{name[:8]:>8} |err| mean  p95  recall  false" for name in names))
    print(header + "\n" + "-" * len(header))
    for kind in [*kinds, "all"]:
        chosen = [i for i, (_, _, k) in enumerate(pairs) if kind in ("all", k)]
        cells = []
        for name in names:
            estimates = results[name]["pairs"]
            errors = sorted(abs(estimates[i][0] - exact[i]) for i in chosen)
            high = [i for i in chosen if exact[i] >= threshold]
            low = [i for i in chosen if exact[i] < threshold - 0.2]
            recall = sum(estimates[i][1] for i in high) / len(high) if high else float("nan")
            false = sum(estimates[i][1] and estimates[i][0] >= threshold for i in low)
            cells.append(f"{'':>8} {statistics.fmean(errors):>10.3f} {errors[int(0.95 * (len(errors) - 1))]:>5.3f}"
                         f" {recall:>7.3f} {false:>3}/{len(low):<4}")
        mean_exact = statistics.fmean(exact[i] for i in chosen)
        print(f"{kind:<26} {len(chosen):>5} {mean_exact:>8.3f} | " + " | ".join(cells))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-code", type=Path, help="another checkout to compare with (git archive of a rev)")
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--posts", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds per corpus (best is reported)")
    parser.add_argument("--threshold", type=float, default=0.6)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.corpus, args.out, args.rounds)
        return 0
    work = Path(tempfile.mkdtemp(prefix="fp-bench-"))
    corpus_file = work / "corpus.json"
    made = corpus(args.mails, args.posts)
    corpus_file.write_text(json.dumps(made, ensure_ascii=False), encoding="utf-8")
    codes = {"this": ROOT} | ({"baseline": args.baseline_code.resolve()} if args.baseline_code else {})
    results = {name: _run(code, corpus_file, args.rounds) for name, code in reversed(codes.items())}
    results = {name: results[name] for name in codes}
    print("CPU per fingerprint (process time, cache cleared before each text, best of"
          f" {args.rounds} rounds); checkouts: " + ", ".join(f"{n} = {Path(r['module']).parents[2]}"
                                                              for n, r in results.items()))
    header = (f"{'texts':<26} {'n':>6} {'chars':>6} " + " ".join(f"{name:>10}" for name in results) + "    ratio"
              + "  clusters at 0.6 (" + " / ".join(results) + ")")
    print(header + "\n" + "-" * len(header))
    for name, texts in made["texts"].items():
        cells = [results[r]["cpu"][name] * 1e6 for r in results]
        ratio = f"{cells[1] / cells[0]:>7.1f}x" if len(cells) > 1 else ""
        chars = statistics.fmean(map(len, texts))
        groups = " / ".join(f"{results[r]['clusters'][name]:,}" for r in results)
        print(f"{name:<26} {len(texts):>6} {chars:>6.0f} " + " ".join(f"{c:>7.1f} µs" for c in cells) + f" {ratio}"
              f"  {groups}")
    _quality(made["pairs"], results, args.threshold)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
