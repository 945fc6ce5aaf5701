"""Escalation precision of the default rules on the hand-written precision set, with a naive baseline.

    .venv/bin/python bench/precision.py                      # per class and overall
    .venv/bin/python bench/precision.py --by script --by channel --by kind
    .venv/bin/python bench/precision.py --errors             # misclassified ids, with why
    .venv/bin/python bench/precision.py --json               # machine-readable result
    .venv/bin/python bench/precision.py --split dev          # tuning part only (holdout: the rest)
    .venv/bin/python bench/precision.py --check              # exit 1 unless recall >= 0.97 and
                                                             # false escalation <= 0.05 overall

The set (``tests/fixtures/precision/*.jsonl``, see its README) labels every message ``escalate``
(PR staff should be paged: priority L1/L2) or ``calm`` (a look-alike nobody should be paged for).

**Escalated** means: the analysis' priority (``Analysis.priority``, the most urgent finding) is L1 or
L2. ``alert`` is not part of the definition (every default L1/L2 rule alerts anyway).

Two analyzers run on the same items in the same run:

* **yuqing**: ``load_analyzer(rules/)`` - exactly what the daemon and ``yuqing analyze`` build from
  the default rules (normalization, segmentation, negation/compound handling, sentiment ...).
* **naive substring**: every keyword literal of the same rule files (read with the project's YAML
  loader; ``keywords.any``/``all``/``any_of``/``all_of``, nested groups flattened; each side of ``A NEAR/n B`` and
  each ``|`` alternative on its own; ``none`` lists ignored), matched as a plain case-insensitive
  substring of the raw title + text; a hit gives its rule's priority. No normalization, no tokens,
  no exclusions - the matcher the issue's precision numbers are measured against.

Metrics per group: recall = escalate items escalated / escalate items; false escalation = calm
items escalated / calm items; precision = escalate items escalated / all items escalated.
Rules that need follower or engagement counts cannot fire here (the set carries none).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.analysis.engine import load_analyzer, rule_files  # noqa: E402
from monitor.message import Message  # noqa: E402
from monitor.yamlsource import load_yaml  # noqa: E402

SET_DIR = ROOT / "tests" / "fixtures" / "precision"
ESCALATING = frozenset({"L1", "L2"})
RECALL_MIN, FALSE_ESCALATION_MAX = 0.97, 0.05
NEAR = re.compile(r"\s+NEAR/\d+\s+")
LABELS = ("escalate", "calm")
POSITIVE_GROUPS = frozenset({"any", "all", "any_of", "all_of"})  # keyword groups that make a rule fire


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    text: str
    title: str
    channel: str
    script: str
    cls: str
    label: str
    kind: str

    @property
    def length(self) -> str:
        return "email" if self.channel == "email" else "short"


@dataclass(frozen=True, slots=True)
class Verdict:
    escalated: bool
    priority: str | None
    why: tuple[str, ...]  # rule ids (yuqing) or rule:literal (naive) that escalated


def load_set(directory: Path, *, limit: int = 0) -> list[Item]:
    """Every item of every ``*.jsonl`` file except the e-mail cores; ``limit`` items per file."""
    items: list[Item] = []
    for path in sorted(directory.glob("*.jsonl")):
        if path.name == "email_cores.jsonl":
            continue
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for row in rows[:limit] if limit else rows:
            items.append(
                Item(
                    id=row["id"],
                    text=row["text"],
                    title=row.get("title", ""),
                    channel=row["channel"],
                    script=row["script"],
                    cls=row["class"],
                    label=row["label"],
                    kind=row["kind"],
                )
            )
    if not items:
        raise SystemExit(f"no items in {directory}")
    return items


def split_of(item_id: str) -> str:
    """``holdout`` for a third of the ids (stable SHA-1 hash), ``dev`` for the rest: tune on dev only."""
    return "holdout" if int(hashlib.sha1(item_id.encode()).hexdigest(), 16) % 3 == 0 else "dev"


def to_message(item: Item) -> Message:
    return Message(
        source="precision",
        external_id=item.id,
        thread_key=item.id,
        text=item.text,
        title=item.title,
        channel=item.channel,
        created_at=datetime(2024, 6, 1, tzinfo=UTC),
    )


def yuqing(rule_paths: Sequence[Path]) -> Callable[[Item], Verdict]:
    analyzer = load_analyzer(rule_paths)

    def judge(item: Item) -> Verdict:
        analysis = analyzer(to_message(item))
        why = tuple(f.rule_id for f in analysis.findings if f.priority in ESCALATING)
        return Verdict(analysis.priority in ESCALATING, analysis.priority, why)

    return judge


def _literals(value: Any) -> Iterable[str]:
    """Keyword literals in a (possibly nested) keyword group: strings, ``{word: ...}``, NEAR sides."""
    if isinstance(value, list | tuple):
        for entry in value:
            yield from _literals(entry)
    elif isinstance(value, dict):
        if "word" in value:
            yield from _literals(value["word"])
    elif value is not None and not isinstance(value, bool):
        for side in NEAR.split(str(value)):
            yield from (w.strip() for w in side.split("|") if w.strip())


def naive_keywords(rule_paths: Sequence[Path]) -> list[tuple[str, str, str]]:
    """``(literal, rule id, priority)`` for every positive keyword literal of an escalating rule."""
    out: list[tuple[str, str, str]] = []
    for path in rule_files(rule_paths):
        doc = load_yaml(path, expand_env=False)
        data = doc.data if isinstance(doc.data, dict) else {}
        for rule in data.get("rules") or []:
            if not isinstance(rule, dict) or rule.get("enabled", True) is False:
                continue
            priority = rule.get("priority")
            keywords = rule.get("keywords") or {}
            if priority not in ESCALATING or not isinstance(keywords, dict):
                continue
            for group in POSITIVE_GROUPS & keywords.keys():
                out.extend((w.casefold(), str(rule.get("id")), priority) for w in _literals(keywords[group]))
    return out


def naive(rule_paths: Sequence[Path]) -> Callable[[Item], Verdict]:
    keywords = naive_keywords(rule_paths)

    def judge(item: Item) -> Verdict:
        haystack = f"{item.title}\n{item.text}".casefold()
        hits = [(w, rule, p) for w, rule, p in keywords if w in haystack]
        priority = min((p for _, _, p in hits), default=None)
        return Verdict(bool(hits), priority, tuple(dict.fromkeys(f"{rule}:{w}" for w, rule, _ in hits)))

    return judge


@dataclass(frozen=True, slots=True)
class Scores:
    n: int
    escalate: int
    calm: int
    caught: int  # escalate items escalated
    false: int  # calm items escalated

    @property
    def recall(self) -> float | None:
        return self.caught / self.escalate if self.escalate else None

    @property
    def false_escalation(self) -> float | None:
        return self.false / self.calm if self.calm else None

    @property
    def precision(self) -> float | None:
        fired = self.caught + self.false
        return self.caught / fired if fired else None

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "recall": self.recall,
            "false_escalation": self.false_escalation,
            "precision": self.precision,
        }


def score(pairs: Sequence[tuple[Item, Verdict]]) -> Scores:
    escalate = [v for i, v in pairs if i.label == "escalate"]
    calm = [v for i, v in pairs if i.label == "calm"]
    return Scores(
        len(pairs),
        len(escalate),
        len(calm),
        sum(v.escalated for v in escalate),
        sum(v.escalated for v in calm),
    )


def grouped(
    items: Sequence[Item], verdicts: Sequence[Verdict], key: Callable[[Item], str]
) -> dict[str, Scores]:
    groups: dict[str, list[tuple[Item, Verdict]]] = {}
    for item, verdict in zip(items, verdicts, strict=True):
        groups.setdefault(key(item), []).append((item, verdict))
    out = {name: score(pairs) for name, pairs in sorted(groups.items())}
    out["overall"] = score(list(zip(items, verdicts, strict=True)))
    return out


KEYS: dict[str, Callable[[Item], str]] = {
    "class": lambda i: i.cls,
    "script": lambda i: i.script,
    "channel": lambda i: i.channel,
    "length": lambda i: i.length,
    "kind": lambda i: f"{i.label}/{i.kind}",
}


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def print_table(by: str, ours: dict[str, Scores], base: dict[str, Scores]) -> None:
    print(f"\nby {by}: yuqing (default rules) | naive substring baseline, same run")
    print(
        f"| {by} | n | escalate | calm | recall | false esc. | precision "
        "| naive recall | naive false esc. | naive precision |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, s in ours.items():
        b = base[name]
        label = f"**{name}**" if name == "overall" else name
        print(
            f"| {label} | {s.n} | {s.escalate} | {s.calm} | {_pct(s.recall)} | {_pct(s.false_escalation)} "
            f"| {_pct(s.precision)} | {_pct(b.recall)} | {_pct(b.false_escalation)} | {_pct(b.precision)} |"
        )


def errors(items: Sequence[Item], ours: Sequence[Verdict], base: Sequence[Verdict]) -> list[dict[str, Any]]:
    out = []
    for item, v, b in zip(items, ours, base, strict=True):
        if v.escalated != (item.label == "escalate"):
            out.append(
                {
                    "id": item.id,
                    "label": item.label,
                    "kind": item.kind,
                    "priority": v.priority,
                    "why": list(v.why),
                    "naive_correct": b.escalated == (item.label == "escalate"),
                    "excerpt": " ".join((item.title + " " + item.text).split())[:70],
                }
            )
    return out


def print_errors(rows: Sequence[dict[str, Any]]) -> None:
    missed = [r for r in rows if r["label"] == "escalate"]
    false = [r for r in rows if r["label"] == "calm"]
    for title, group in (("missed escalations", missed), ("false escalations", false)):
        print(f"\n{title} ({len(group)}):")
        for r in group:
            why = ",".join(r["why"]) or "-"
            naive_ok = "naive ok" if r["naive_correct"] else "naive wrong too"
            print(
                f"  {r['id']:<22} {r['kind']:<14} {r['priority'] or '-':<4} {why:<40} [{naive_ok}] {r['excerpt']}"
            )


def check(overall: Scores) -> list[str]:
    problems = []
    if overall.recall is not None and overall.recall < RECALL_MIN:
        problems.append(f"recall {overall.recall:.3f} < {RECALL_MIN}")
    if overall.false_escalation is not None and overall.false_escalation > FALSE_ESCALATION_MAX:
        problems.append(f"false escalation {overall.false_escalation:.3f} > {FALSE_ESCALATION_MAX}")
    return problems


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--set", type=Path, default=SET_DIR, help="directory of the precision set")
    parser.add_argument("--rules", type=Path, action="append", help="rule directory or file (default rules/)")
    parser.add_argument("--by", action="append", choices=sorted(KEYS), help="breakdown(s); default: class")
    parser.add_argument("--errors", action="store_true", help="list misclassified ids (yuqing)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 unless overall recall and false escalation meet the targets",
    )
    parser.add_argument("--limit", type=int, default=0, help="first N items of each file only (0 = all)")
    parser.add_argument(
        "--split",
        choices=("all", "dev", "holdout"),
        default="all",
        help="dev: the ids rules are tuned on; holdout: the third (SHA-1 of id %% 3 == 0) kept out of tuning",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    rule_paths = args.rules or [ROOT / "rules"]
    items = load_set(args.set, limit=args.limit)
    if args.split != "all":
        items = [i for i in items if split_of(i.id) == args.split]
    judge_ours, judge_base = yuqing(rule_paths), naive(rule_paths)
    started = time.perf_counter()
    ours = [judge_ours(i) for i in items]
    took = time.perf_counter() - started
    base = [judge_base(i) for i in items]
    breakdowns = {
        by: (grouped(items, ours, KEYS[by]), grouped(items, base, KEYS[by])) for by in args.by or ["class"]
    }
    overall = score(list(zip(items, ours, strict=True)))
    problems = check(overall)
    wrong = errors(items, ours, base)
    if args.json:
        result = {
            "items": len(items),
            "escalated_means": "analysis priority in {L1, L2}",
            "targets": {"recall_min": RECALL_MIN, "false_escalation_max": FALSE_ESCALATION_MAX},
            "breakdowns": {
                by: {
                    "yuqing": {k: s.as_dict() for k, s in o.items()},
                    "naive": {k: s.as_dict() for k, s in b.items()},
                }
                for by, (o, b) in breakdowns.items()
            },
            "errors": wrong,
            "check": problems,
        }
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        labels = {lab: sum(i.label == lab for i in items) for lab in LABELS}
        print(
            f"precision set{'' if args.split == 'all' else f' ({args.split})'}: {len(items)} items ({labels['escalate']} escalate, {labels['calm']} calm) from {args.set}; "
            f"rules: {', '.join(str(p) for p in rule_paths)}; escalated := priority in {{L1, L2}}; "
            f"yuqing {len(items) / took:,.0f} msg/s"
        )
        for by, (o, b) in breakdowns.items():
            print_table(by, o, b)
        if args.errors:
            print_errors(wrong)
        verdict = "; ".join(problems) if problems else "met"
        print(f"\ntargets (recall >= {RECALL_MIN}, false escalation <= {FALSE_ESCALATION_MAX}): {verdict}")
    return 1 if args.check and problems else 0


if __name__ == "__main__":
    sys.exit(main())
