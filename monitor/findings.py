"""What analysis tells the rest of the system: Findings grouped in an Analysis.

This is the stage interface between analysis and tickets/alerts. Any analyzer - the minimal keyword
matcher or the full engine - is a callable ``Message -> Analysis``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from monitor.message import Message

Priority = Literal["L1", "L2", "L3"]
"""L1 is the most urgent (page now), L3 the least (normal handling)."""

PRIORITIES: tuple[Priority, ...] = ("L1", "L2", "L3")


def priority_rank(priority: str | None) -> int:
    """Sort key where a smaller number is more urgent; ``None`` ranks last."""
    return PRIORITIES.index(priority) if priority in PRIORITIES else len(PRIORITIES)


def most_urgent(*priorities: str | None) -> Priority | None:
    """The most urgent of the given priorities (``None`` if none is set)."""
    best = min(priorities, key=priority_rank, default=None)
    return best if best in PRIORITIES else None


@dataclass(frozen=True, slots=True)
class Match:
    """A keyword or pattern hit with offsets into the *original* message text."""

    keyword: str
    start: int
    end: int
    field: str = "text"  # "text" or "title": which original string the offsets refer to

    # Analyses cross between the daemon and its analysis workers (monitor.ingest.analyse) pickled.
    # A frozen slots dataclass unpickles through a Python loop over ``fields()``; rebuilding by the
    # constructor from a tuple is ~3x cheaper both ways (a long mail has dozens of matches).
    def __reduce__(self) -> tuple[type[Match], tuple[str, int, int, str]]:
        return (Match, (self.keyword, self.start, self.end, self.field))


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule that fired on one message, and what it decides."""

    rule_id: str
    priority: Priority | None = None
    alert: bool = False
    matches: tuple[Match, ...] = ()
    feedback_type: str | None = None  # complaint / suggestion / praise / inquiry
    category: str | None = None  # product / service / process / environment
    department: str | None = None
    tags: tuple[str, ...] = ()
    review: bool = False  # abuse, fraud, threats: manual review queue

    def __reduce__(self) -> tuple[type[Finding], tuple[object, ...]]:  # see Match.__reduce__
        return (
            Finding,
            (
                self.rule_id, self.priority, self.alert, self.matches, self.feedback_type, self.category,
                self.department, self.tags, self.review,
            ),
        )


@dataclass(frozen=True, slots=True)
class Sentiment:
    score: float  # in [-1, 1]
    label: Literal["negative", "neutral", "positive"]

    def __reduce__(self) -> tuple[type[Sentiment], tuple[float, str]]:  # see Match.__reduce__
        return (Sentiment, (self.score, self.label))


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything analysis found about one message."""

    findings: tuple[Finding, ...] = ()
    sentiment: Sentiment | None = None

    def __reduce__(self) -> tuple[type[Analysis], tuple[tuple[Finding, ...], Sentiment | None]]:
        return (Analysis, (self.findings, self.sentiment))  # see Match.__reduce__

    @property
    def priority(self) -> Priority | None:
        return most_urgent(*(f.priority for f in self.findings))

    @property
    def alert(self) -> bool:
        return any(f.alert for f in self.findings)

    @property
    def review(self) -> bool:
        return any(f.review for f in self.findings)

    def first(self, attribute: str) -> str | None:
        """The first non-empty value of a Finding attribute, most urgent finding first."""
        for finding in sorted(self.findings, key=lambda f: priority_rank(f.priority)):
            value = getattr(finding, attribute)
            if value:
                return str(value)
        return None


class Analyzer(Protocol):
    """The analysis stage: a callable from Message to Analysis (no side effects)."""

    def __call__(self, message: Message) -> Analysis: ...
