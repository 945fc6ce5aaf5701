"""Compare two analyzers over the same messages: what would fire differently after a rule change.

``yuqing rules backtest`` (owned by the daemon side, which reads stored messages) is a thin loop
around :func:`compare`: pass the stored messages, the analyzer that is live (or what fired then)
and the candidate analyzer, print :meth:`BacktestReport.lines`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from monitor.findings import Analysis, Analyzer
from monitor.message import Message

FiredBefore = Analyzer | Callable[[Message], Iterable[str]]


@dataclass
class BacktestReport:
    """Per rule: messages on which it would start or stop alerting / firing."""

    messages: int = 0
    alerts_added: Counter[str] = field(default_factory=Counter)
    alerts_removed: Counter[str] = field(default_factory=Counter)
    fired_added: Counter[str] = field(default_factory=Counter)
    fired_removed: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)  # rule -> a few external ids

    def lines(self) -> list[str]:
        rules = sorted(
            set(self.fired_added)
            | set(self.fired_removed)
            | set(self.alerts_added)
            | set(self.alerts_removed)
        )
        out = [f"{self.messages} 条消息 messages; 规则 rule: +触发/-触发 fired, +告警/-告警 alerts"]
        for rule in rules:
            out.append(
                f"  {rule}: +{self.fired_added[rule]}/-{self.fired_removed[rule]} fired, "
                f"+{self.alerts_added[rule]}/-{self.alerts_removed[rule]} alerts"
                + (f"  e.g. {', '.join(self.examples.get(rule, []))}" if self.examples.get(rule) else "")
            )
        if not rules:
            out.append("  没有差异 no differences")
        return out


def _fired(result: Analysis | Iterable[str]) -> tuple[set[str], set[str]]:
    if isinstance(result, Analysis):
        return {f.rule_id for f in result.findings}, {f.rule_id for f in result.findings if f.alert}
    ids = set(result)
    return ids, ids


def compare(
    messages: Iterable[Message], before: FiredBefore, after: Analyzer, *, examples: int = 3
) -> BacktestReport:
    """Run both sides over ``messages``. ``before`` may be an analyzer or a function returning the
    rule ids that alerted at the time (from the database), in which case those count as both fired
    and alerted."""
    report = BacktestReport()
    for message in messages:
        report.messages += 1
        old_fired, old_alerts = _fired(before(message))
        new_fired, new_alerts = _fired(after(message))
        for rule in new_fired - old_fired:
            report.fired_added[rule] += 1
            bucket = report.examples.setdefault(rule, [])
            if len(bucket) < examples:
                bucket.append(message.external_id)
        for rule in old_fired - new_fired:
            report.fired_removed[rule] += 1
        for rule in new_alerts - old_alerts:
            report.alerts_added[rule] += 1
        for rule in old_alerts - new_alerts:
            report.alerts_removed[rule] += 1
    return report
