"""Why did (or didn't) a rule fire? ``yuqing rules explain TEXT`` and the record behind it.

:func:`explain` runs the real evaluation (:meth:`Rule.judge` on the engine's own
:class:`~monitor.analysis.context.MessageContext`) on every rule and returns an
:class:`Explanation`: normalization, tokens, the intent of each sentence, every keyword occurrence
with its status (plain, negated, compound, number, partial), and each rule's verdict with the
occurrences it did not count. The record is plain frozen data (:func:`to_json` turns it into JSON)
so the web console can reuse it; :func:`render` is the Chinese-first text for PR staff.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from typing import Any

from monitor.analysis.context import Status
from monitor.analysis.engine import Engine
from monitor.analysis.intent import Intent, intent_of, sentences
from monitor.analysis.rules import Verdict
from monitor.findings import Analysis, Finding, Match
from monitor.message import Message

STATUS_LABELS: dict[str, str] = {
    "plain": "命中 counted",
    "negated": "否定 negated",
    "compound": "复合词的一部分 part of a compound",
    "number": "更长数字的一部分 inside a longer number",
    "partial": "不是完整的词 not a whole token",
    "question": "信息咨询句 information question",
}

OUTCOME_LABELS: dict[str, str] = {
    "fired": "触发 fired",
    "source": "来源不符 source not listed",
    "channel": "渠道不符 channel not listed",
    "threshold": "阈值未达到 threshold not met",
    "no_match": "没有计入的关键词 no counted keyword",
    "all_missing": "缺少 all 中的关键词 missing an 'all' keyword",
    "group_missing": "all_of 有一组没有命中 an all_of group has no hit",
    "excluded": "被 none 排除 excluded by 'none'",
    "regex": "正则没有命中 no regex matched",
}


@dataclass(frozen=True, slots=True)
class KeywordOccurrence:
    """A keyword (or compound) found in the normalized text, with offsets into the original."""

    match: Match
    status: Status
    compound_word: bool = False  # a word from a ``compounds:`` list, not a keyword


@dataclass(frozen=True, slots=True)
class SentenceIntent:
    text: str  # normalized sentence
    intent: Intent


@dataclass(frozen=True, slots=True)
class Explanation:
    """Everything ``rules explain`` shows, as data."""

    original: str
    normalized: str
    tokens: tuple[str, ...]
    sentences: tuple[SentenceIntent, ...]
    occurrences: tuple[KeywordOccurrence, ...]
    verdicts: tuple[Verdict, ...]
    analysis: Analysis


def explain(engine: Engine, message: Message) -> Explanation:
    """Evaluate every rule of ``engine`` on ``message`` and keep the reasons."""
    ctx = engine.context(message)
    verdicts = tuple(rule.judge(ctx) for rule in engine.rules)
    findings = tuple(v.finding for v in verdicts if v.finding is not None)
    seen: dict[tuple[str, int, int], KeywordOccurrence] = {}
    for rule in engine.rules:
        for term in rule.terms:
            for word in term.words:
                for occ in ctx.occurrences(word, term.mode):
                    key = (word, occ.start, occ.end)
                    if key not in seen or seen[key].status == "partial":
                        seen[key] = KeywordOccurrence(ctx.match(word, occ.start, occ.end), ctx.status(occ))
    compounds = ctx.compounds | {w for r in engine.rules for w in r.policy.compounds}
    for word in compounds:
        for s, e in ctx.hits.get(word, ()):
            seen.setdefault((word, s, e), KeywordOccurrence(ctx.match(word, s, e), "plain", compound_word=True))
    value = ctx.text.value
    return Explanation(
        original=ctx.text.original,
        normalized=value,
        tokens=tuple(ctx.tokens.visible()),
        sentences=tuple(SentenceIntent(value[a:b], intent_of(value[a:b])) for a, b in sentences(value)),
        occurrences=tuple(sorted(seen.values(), key=lambda o: (o.match.start, o.match.end))),
        verdicts=verdicts,
        analysis=Analysis(findings, ctx.sentiment),
    )


def _match_json(m: Match) -> dict[str, Any]:
    return {"keyword": m.keyword, "field": m.field, "start": m.start, "end": m.end}


def _finding_json(f: Finding | None) -> dict[str, Any] | None:
    if f is None:
        return None
    return {"priority": f.priority, "alert": f.alert, "review": f.review, "tags": list(f.tags)}


def to_json(ex: Explanation) -> dict[str, Any]:
    """The explanation as JSON-ready data (stable keys; the console reads this)."""
    a = ex.analysis
    return {
        "original": ex.original,
        "normalized": ex.normalized,
        "tokens": list(ex.tokens),
        "sentences": [{"text": s.text, "intent": s.intent} for s in ex.sentences],
        "occurrences": [
            {**_match_json(o.match), "status": o.status, "compound_word": o.compound_word}
            for o in ex.occurrences
        ],
        "rules": [
            {
                "rule": v.rule_id,
                "fired": v.fired,
                "outcome": v.outcome,
                "detail": v.detail,
                "matches": [_match_json(m) for m in v.matches],
                "rejected": [{**_match_json(r.match), "reason": r.reason} for r in v.rejected],
                "finding": _finding_json(v.finding),
            }
            for v in ex.verdicts
        ],
        "priority": a.priority,
        "alert": a.alert,
        "review": a.review,
        "sentiment": {"score": a.sentiment.score, "label": a.sentiment.label} if a.sentiment else None,
    }


def _verdict_lines(v: Verdict) -> list[str]:
    mark = "✓" if v.fired else "✗"
    detail = f"（{v.detail}）" if v.detail else ""
    lines = [f"  {mark} {v.rule_id}: {OUTCOME_LABELS[v.outcome]}{detail}"]
    if v.matches:
        lines.append("      计入 counted: " + ", ".join(dict.fromkeys(m.keyword for m in v.matches)))
    lines.extend(
        f"      不计入 not counted: {r.match.keyword} [{r.match.start}:{r.match.end}] {STATUS_LABELS[r.reason]}"
        for r in v.rejected
    )
    return lines


def render(ex: Explanation, *, every_rule: bool = False) -> str:
    """Chinese-first text. Without ``every_rule`` only rules that fired or saw a keyword are listed."""
    out = [f"原文 original:    {ex.original}", f"归一化 normalized: {ex.normalized}"]
    out.append("分词 tokens:      " + " / ".join(ex.tokens))
    out.append("句子意图 intent:")
    out.extend(f"  [{s.intent}] {s.text.strip()}" for s in ex.sentences)
    out.append("关键词 keywords:" + ("" if ex.occurrences else " （无 none）"))
    for o in ex.occurrences:
        label = "复合词 compound word" if o.compound_word else STATUS_LABELS[o.status]
        out.append(f"  {o.match.keyword} [{o.match.start}:{o.match.end}] {label}")
    out.append("规则 rules:")
    for v in ex.verdicts:
        if every_rule or v.fired or v.rejected or v.outcome in {"all_missing", "group_missing", "excluded"}:
            out.extend(_verdict_lines(v))
    a = ex.analysis
    sentiment = f"{a.sentiment.label} {a.sentiment.score:+.2f}" if a.sentiment else "-"
    out.append(
        f"结果 result: priority={a.priority or '-'} alert={'yes' if a.alert else 'no'} "
        f"review={'yes' if a.review else 'no'} sentiment={sentiment}"
    )
    return "\n".join(out)


def register_rules(rules_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``rules explain`` (called by :func:`monitor.analysis.cli.register`)."""
    from monitor.analysis import cli  # the shared --rules option and loader; cli imports us lazily

    parser = rules_sub.add_parser(
        "explain",
        help="解释一段文字为什么触发或不触发各条规则 / show why each rule fires or not",
    )
    cli._add_rules_option(parser)
    parser.add_argument("text", nargs="+", help="要分析的文字 / text to explain")
    parser.add_argument("--title", default="", help="标题（可选）/ optional title")
    parser.add_argument("--all", action="store_true", help="列出所有规则 / list every rule")
    parser.add_argument("--json", action="store_true", help="输出 JSON / print JSON")
    parser.set_defaults(func=cmd_rules_explain)


def cmd_rules_explain(args: argparse.Namespace) -> int:
    from monitor.analysis import cli

    engine = cli._load(args)
    if engine is None:
        return cli.EXIT_CONFIG
    message = cli.parse_input(" ".join(args.text), 1)
    if args.title:
        message = replace(message, title=args.title)
    ex = explain(engine, message)
    if args.json:
        sys.stdout.write(json.dumps(to_json(ex), ensure_ascii=False, indent=2) + "\n")
    else:
        print(render(ex, every_rule=args.all))
    return cli.EXIT_OK
