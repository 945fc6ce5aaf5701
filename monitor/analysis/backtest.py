"""Compare two analyzers over the same messages: what would fire differently after a rule change.

``yuqing rules backtest`` (owned by the daemon side, which reads stored messages) is a thin loop
around :func:`compare`: pass the stored messages, the baseline (the live rules run again, or what
was stored when each message was ingested) and the candidate analyzer, print
:meth:`BacktestReport.lines`. Each change comes with examples people can read: a reference the
caller chooses (a ticket code) and an excerpt around the keyword, passed through the caller's
masking function (phones, ID numbers, e-mail addresses) before it is kept.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from monitor.findings import Analysis, Analyzer, Match
from monitor.message import Message

EXCERPT_WIDTH = 60


@dataclass(frozen=True, slots=True)
class Outcome:
    """Which rules fired and which of them alerted on one message (and where, when known)."""

    fired: frozenset[str]
    alerts: frozenset[str]
    matches: Mapping[str, tuple[Match, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, analysis: Analysis) -> Outcome:
        return cls(
            frozenset(f.rule_id for f in analysis.findings),
            frozenset(f.rule_id for f in analysis.findings if f.alert),
            {f.rule_id: f.matches for f in analysis.findings},
        )


Baseline = Analyzer | Callable[[Message], Outcome | Iterable[str]]


@dataclass(frozen=True, slots=True)
class Example:
    """A message a change applies to: a reference (ticket code) and a masked excerpt."""

    ref: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.ref}  “{self.excerpt}”"


def excerpt(
    message: Message, matches: Sequence[Match], mask: Callable[[str], str], width: int = EXCERPT_WIDTH
) -> str:
    """About ``width`` characters around the first match (else the start), masked, on one line.

    The whole field is masked first and the window cut afterwards, so a phone number is never cut
    in half and then left unmasked.
    """
    first = matches[0] if matches else None
    raw = message.title if first is not None and first.field == "title" else message.text
    if not raw.strip():
        raw = message.title
    masked = mask(raw)
    at = 0
    if first is not None:
        found = masked.find(raw[first.start : first.end]) if first.end > first.start else -1
        at = found if found >= 0 else min(first.start, len(masked))
    start = max(0, at - width // 3)
    end = min(len(masked), start + width)
    text = " ".join(masked[start:end].split())
    return ("…" if start > 0 else "") + text + ("…" if end < len(masked) else "")


@dataclass
class BacktestReport:
    """Per rule: messages on which it would start or stop firing / alerting, with examples."""

    messages: int = 0
    alerts_added: Counter[str] = field(default_factory=Counter)
    alerts_removed: Counter[str] = field(default_factory=Counter)
    fired_added: Counter[str] = field(default_factory=Counter)
    fired_removed: Counter[str] = field(default_factory=Counter)
    added_examples: dict[str, list[Example]] = field(default_factory=dict)
    removed_examples: dict[str, list[Example]] = field(default_factory=dict)

    @property
    def changed_rules(self) -> list[str]:
        counters = (self.fired_added, self.fired_removed, self.alerts_added, self.alerts_removed)
        return sorted({rule for counter in counters for rule, n in counter.items() if n})

    def lines(self) -> list[str]:
        out = [f"{self.messages} 条消息 messages; 规则 rule: +触发/-触发 fired, +告警/-告警 alerts"]
        for rule in self.changed_rules:
            out.append(
                f"  {rule}: +{self.fired_added[rule]}/-{self.fired_removed[rule]} fired, "
                f"+{self.alerts_added[rule]}/-{self.alerts_removed[rule]} alerts"
            )
            out.extend(f"    + {e}" for e in self.added_examples.get(rule, []))
            out.extend(f"    - {e}" for e in self.removed_examples.get(rule, []))
        if not self.changed_rules:
            out.append("  没有差异 no differences")
        return out


def _outcome(result: Analysis | Outcome | Iterable[str]) -> Outcome:
    if isinstance(result, Analysis):
        return Outcome.of(result)
    if isinstance(result, Outcome):
        return result
    ids = frozenset(result)  # plain rule ids: each counts as fired and alerted
    return Outcome(ids, ids)


def _identity(text: str) -> str:
    return text


def compare(
    messages: Iterable[Message],
    before: Baseline,
    after: Analyzer,
    *,
    examples: int = 3,
    ref: Callable[[Message], str] | None = None,
    mask: Callable[[str], str] = _identity,
) -> BacktestReport:
    """Run both sides over ``messages``.

    ``before`` may be an analyzer, a function returning an :class:`Outcome` (what fired and
    alerted at ingestion) or a function returning plain rule ids (counted as fired and alerted).
    ``ref`` names a message in the examples (default: its external id); ``mask`` hides personal
    data in excerpts.
    """
    report = BacktestReport()
    name = ref or (lambda m: m.external_id)
    for message in messages:
        report.messages += 1
        old = _outcome(before(message))
        new = Outcome.of(after(message))
        for rule in new.fired - old.fired:
            report.fired_added[rule] += 1
            _keep(report.added_examples, rule, examples, message, new, name, mask)
        for rule in old.fired - new.fired:
            report.fired_removed[rule] += 1
            _keep(report.removed_examples, rule, examples, message, old, name, mask)
        for rule in new.alerts - old.alerts:
            report.alerts_added[rule] += 1
            if rule in old.fired:  # fired before too: an example shows why it now alerts
                _keep(report.added_examples, rule, examples, message, new, name, mask)
        for rule in old.alerts - new.alerts:
            report.alerts_removed[rule] += 1
            if rule in new.fired:
                _keep(report.removed_examples, rule, examples, message, old, name, mask)
    return report


def _keep(
    bucket: dict[str, list[Example]],
    rule: str,
    limit: int,
    message: Message,
    outcome: Outcome,
    name: Callable[[Message], str],
    mask: Callable[[str], str],
) -> None:
    kept = bucket.setdefault(rule, [])
    if len(kept) < limit:
        kept.append(Example(name(message), excerpt(message, outcome.matches.get(rule, ()), mask)))
