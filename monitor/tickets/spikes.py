"""Spike rules of incident detection: posts per story and time window, against the story's own baseline.

Rules are evaluated at the timestamp of every new post of a story, so the answer depends on the
posts, not on how they were cut into batches. Counts run as ``UNION ALL`` statements of indexed
range counts (200 windows per statement): a batch costs one or two round trips however many
stories it touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import cast

from sqlalchemy import Integer, Table, TextualSelect, bindparam, text
from sqlalchemy.orm import Session

from monitor.findings import Priority, priority_rank
from monitor.storage.models import StoredMessage
from monitor.tickets.incident_settings import IncidentsConfig, SpikeRule

_MESSAGES = cast(Table, StoredMessage.__table__)

Window = tuple[int, datetime, datetime]  # cluster id, start (exclusive), end (inclusive)
_UNION = 200  # count subqueries per statement (SQLite allows 500 terms in a compound SELECT)


@lru_cache(maxsize=32)
def _counts_statement(terms: int) -> TextualSelect:
    """``terms`` indexed counts in one ``UNION ALL`` (built once per size: constructing and
    compiling hundreds of ``select()`` objects per batch cost more than running them)."""
    table = _MESSAGES.name
    sql = " UNION ALL ".join(
        f"SELECT {n} AS k, count(*) AS n FROM {table}"
        f" WHERE cluster_id = :c{n} AND created_at > :s{n} AND created_at <= :e{n}"
        for n in range(terms)
    )
    stamp = StoredMessage.__table__.c.created_at.type
    binds = [bindparam(f"{kind}{n}", type_=stamp) for n in range(terms) for kind in ("s", "e")]
    return text(sql).bindparams(*binds).columns(k=Integer, n=Integer)


def window_counts(session: Session, windows: Sequence[Window]) -> dict[Window, int]:
    """Posts per (cluster, window): one ``UNION ALL`` of indexed counts per 200 windows, so a
    batch costs one round trip however many stories it touched."""
    unique = list(dict.fromkeys(windows))
    counts: dict[Window, int] = {}
    for begin in range(0, len(unique), _UNION):
        chunk = unique[begin : begin + _UNION]
        params: dict[str, object] = {}
        for n, (cluster_id, start, end) in enumerate(chunk):
            params[f"c{n}"], params[f"s{n}"], params[f"e{n}"] = cluster_id, start, end
        for number, count in session.execute(_counts_statement(len(chunk)), params):
            counts[chunk[int(number)]] = int(count or 0)
    return counts


@dataclass(frozen=True, slots=True)
class SpikeQuery:
    """One story to test against the spike rules at each of ``ends`` (the times of the batch's
    new posts in it), counting only posts after ``since`` (the story's last resolution)."""

    cluster_id: int
    message_count: int
    ends: tuple[datetime, ...]
    since: datetime | None


@dataclass(frozen=True, slots=True)
class SpikeResult:
    """The most urgent rule that held at any of the query's times, why, and when it first held."""

    priority: Priority | None = None
    why: str = ""
    first: datetime | None = None


def _rules(config: IncidentsConfig) -> list[SpikeRule]:
    return sorted(config.spikes, key=lambda r: priority_rank(r.priority))


def _window(rule: SpikeRule, cluster_id: int, end: datetime, since: datetime | None) -> Window:
    window = timedelta(minutes=rule.window_minutes)
    start = max(end - window, since) if since else end - window
    return (cluster_id, start, end)


def _baseline_window(rule: SpikeRule, cluster_id: int, end: datetime) -> Window:
    window = timedelta(minutes=rule.window_minutes)
    return (cluster_id, end - timedelta(hours=rule.baseline_hours), end - window)


def spike_levels(
    session: Session, queries: Sequence[SpikeQuery], config: IncidentsConfig
) -> dict[int, SpikeResult]:
    """Each story's spike rules evaluated at the time of every new post in it (message
    timestamps, not batch boundaries: the same posts give the same answer however they were cut
    into batches). Two round trips per batch at most: the windows, then the baselines of the
    (story, rule, time) triples whose window reached ``min_count``.
    """
    out: dict[int, SpikeResult] = {q.cluster_id: SpikeResult() for q in queries}
    if not config.spikes:
        return out
    rules = _rules(config)
    smallest = min(r.min_count for r in rules)
    tested = [q for q in queries if q.message_count >= smallest]
    points = [(q, rule, end) for q in tested for rule in rules for end in q.ends]
    counts = window_counts(session, [_window(r, q.cluster_id, e, q.since) for q, r, e in points])
    held = [(q, r, e) for q, r, e in points if counts[_window(r, q.cluster_id, e, q.since)] >= r.min_count]
    baselines = window_counts(session, [_baseline_window(r, q.cluster_id, e) for q, r, e in held])
    for query, rule, end in held:
        count = counts[_window(rule, query.cluster_id, end, query.since)]
        windows = max(1.0, (rule.baseline_hours * 60 - rule.window_minutes) / rule.window_minutes)
        baseline = baselines[_baseline_window(rule, query.cluster_id, end)] / windows
        if count < rule.baseline_factor * baseline:
            continue
        best = out[query.cluster_id]
        first = min(best.first, end) if best.first else end
        if priority_rank(rule.priority) < priority_rank(best.priority):
            why = f"{count} posts in {rule.window_minutes:g} min (baseline {baseline:.1f})"
            out[query.cluster_id] = SpikeResult(rule.priority, why, first)
        else:
            out[query.cluster_id] = SpikeResult(best.priority, best.why, first)
    return out
