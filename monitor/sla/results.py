"""SLA results for reports: each ticket's clocks, as computed from its event log, in ``sla_results``.

The minute job (``monitor.stories.sla``) writes the readings of every open ticket it already
computed for notices, plus the tickets closed since its last run; ``yuqing sla refresh --month``
recomputes a whole month (history, a changed calendar or profile). A clock counts as breached
once any reading of it was over its target (a breach is never taken back by a later reading).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor.sla.calendar import UnknownYearError
from monitor.sla.clocks import Reading
from monitor.sla.policy import SlaEngine
from monitor.sla.store import event_logs, facts
from monitor.storage.models import SlaResult, Ticket

_CHUNK = 500


@dataclass(frozen=True, slots=True)
class TicketReadings:
    ticket_id: int
    profile: str
    readings: tuple[Reading, ...]


def _values(item: TicketReadings, r: Reading, now: datetime) -> dict[str, Any]:
    return {
        "ticket_id": item.ticket_id,
        "clock": r.clock,
        "profile": item.profile[:64],
        "target_s": int(r.target.total_seconds()),
        "elapsed_s": int(r.elapsed.total_seconds()),
        "phase": r.phase,
        "breached": r.level == "breached",
        "updated_at": now,
    }


def record_results(session: Session, items: Sequence[TicketReadings], now: datetime) -> int:
    """Insert or update one row per (ticket, clock) when its state changed (breached, phase, target,
    profile; the elapsed time is brought along then); returns the rows written."""
    wanted = {(i.ticket_id, r.clock): _values(i, r, now) for i in items for r in i.readings}
    if not wanted:
        return 0
    ids = sorted({i.ticket_id for i in items})
    have: dict[tuple[int, str], tuple[int, tuple[Any, ...]]] = {}
    r = SlaResult
    for start in range(0, len(ids), _CHUNK):
        query = select(r.id, r.ticket_id, r.clock, r.breached, r.phase, r.target_s, r.profile).where(
            r.ticket_id.in_(ids[start : start + _CHUNK])
        )
        for row_id, ticket_id, clock, *state in session.execute(query):
            have[(ticket_id, clock)] = (row_id, (bool(state[0]), *state[1:]))
    new = [v for k, v in wanted.items() if k not in have]
    written = len(new)
    for key, values in wanted.items():
        if key not in have:
            continue
        row_id, old = have[key]
        values = {**values, "breached": values["breached"] or old[0]}
        if (values["breached"], values["phase"], values["target_s"], values["profile"]) == old:
            continue  # only the running time moved: not worth a write every minute per clock
        session.execute(update(SlaResult).where(SlaResult.id == row_id).values(**values))
        written += 1
    _insert(session, new)
    return written


def _insert(session: Session, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    try:
        with session.begin_nested():
            session.execute(insert(SlaResult), rows)
        return
    except IntegrityError:  # another instance wrote some of them meanwhile: theirs is as good
        pass
    for row in rows:
        try:
            with session.begin_nested():
                session.execute(insert(SlaResult), [row])
        except IntegrityError:
            continue


def compute_results(
    session: Session, engine: SlaEngine, tickets: Iterable[Ticket], now: datetime
) -> tuple[list[TicketReadings], list[int]]:
    """Readings of ``tickets`` at ``now``; the ids refused for an unknown calendar year."""
    rows = list(tickets)
    logs = event_logs(session, [t.id for t in rows])
    out: list[TicketReadings] = []
    refused: list[int] = []
    for ticket in rows:
        try:
            profile, readings = engine.read(facts(ticket), logs[ticket.id], now)
        except UnknownYearError:
            refused.append(ticket.id)
            continue
        out.append(TicketReadings(ticket.id, profile, tuple(readings)))
    return out, refused


def refresh_results(
    session: Session, engine: SlaEngine, start: datetime, end: datetime, now: datetime
) -> tuple[int, int]:
    """Recompute every ticket created in [start, end): (rows written, tickets refused)."""
    ids = list(
        session.scalars(
            select(Ticket.id).where(Ticket.created_at >= start, Ticket.created_at < end).order_by(Ticket.id)
        )
    )
    written = refused = 0
    for first in range(0, len(ids), _CHUNK):
        chunk = ids[first : first + _CHUNK]
        tickets = session.scalars(select(Ticket).where(Ticket.id.in_(chunk)).order_by(Ticket.id)).all()
        items, bad = compute_results(session, engine, tickets, now)
        written += record_results(session, items, now)
        refused += len(bad)
    return written, refused
