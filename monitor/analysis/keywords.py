"""Placeholder keyword matcher: substring keywords -> Finding (replaced by the full engine)."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.analysis.findings import Analysis, Finding, Match, Priority
from monitor.message import Message


@dataclass(frozen=True, slots=True)
class KeywordRule:
    id: str
    keywords: tuple[str, ...]
    priority: Priority | None = None
    alert: bool = False
    description: str = ""


class KeywordAnalyzer:
    """Fires a rule when any of its keywords occurs in the title or text (case-insensitive)."""

    def __init__(self, rules: list[KeywordRule]) -> None:
        self.rules = tuple(rules)

    def __call__(self, message: Message) -> Analysis:
        haystack = f"{message.title}\n{message.text}".casefold() if message.title else message.text.casefold()
        offset = len(message.title) + 1 if message.title else 0
        findings: list[Finding] = []
        for rule in self.rules:
            matches = []
            for keyword in rule.keywords:
                position = haystack.find(keyword.casefold())
                if position >= 0:
                    start = position - offset
                    matches.append(Match(keyword, start, start + len(keyword)))
            if matches:
                findings.append(Finding(rule.id, rule.priority, rule.alert, tuple(matches)))
        return Analysis(tuple(findings))
