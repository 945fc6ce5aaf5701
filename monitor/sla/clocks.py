"""SLA clocks computed from a ticket's event log against business calendars (pure).

Like Zammad's ``lib/escalation.rb``, nothing is counted up as the ticket moves: every reading
replays the ticket's history, so changing the calendar, the profile or the priority recomputes
every clock consistently — and paused time can never be lost or double-counted.

Clocks:

- ``triage`` (登记分类): from creation to the first action of a person (field change, status
  change or response).
- ``first_response``: from creation to the first recorded agent response (``responded`` event).
- ``next_response``: from a customer message that arrives *after* an agent response to the next
  response; a message before the first response starts nothing (the first-response clock covers
  it), and a response stops the running cycle.
- ``resolution``: from creation until the ticket is closed; ``resolved`` pauses it (a reopened
  ticket continues where it stopped).

Every clock pauses while the ticket is in one of the profile's pause states (``waiting`` for the
customer, ``resolved``); ``closed`` stops every clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from monitor.sla.calendar import ZERO, BusinessCalendar

Phase = Literal["running", "paused", "stopped", "not-started"]
Level = Literal["ok", "warning", "breached"]
HUMAN_KINDS = frozenset({"field", "status", "responded"})
MACHINE_ACTORS = frozenset({"system", "routing"})


@dataclass(frozen=True, slots=True)
class ClockEvent:
    """What the engine needs from one ticket event."""

    id: int
    kind: str  # created, message, responded, status, field, priority, note ...
    at: datetime
    actor: str = "system"
    old: str | None = None
    new: str | None = None


@dataclass(frozen=True, slots=True)
class ClockSpec:
    """One clock's target on its calendar."""

    name: str
    target: timedelta  # working time
    calendar: BusinessCalendar
    warn_at: float = 0.75


@dataclass(frozen=True, slots=True)
class Reading:
    """A clock at ``now``: all durations are working time on the clock's calendar."""

    clock: str
    cycle: int  # id of the event that started this cycle
    target: timedelta
    started_at: datetime
    elapsed: timedelta
    paused: timedelta
    phase: Phase
    level: Level
    due_at: datetime | None  # when running or paused-resumable: the deadline if it resumed now
    warn_due_at: datetime | None
    stopped_at: datetime | None

    @property
    def ratio(self) -> float:
        return self.elapsed / self.target if self.target else 1.0


@dataclass
class _Cycle:
    """Segments of one clock cycle: (paused?, start, end or None while open)."""

    cycle: int
    started_at: datetime
    segments: list[tuple[bool, datetime, datetime | None]] = field(default_factory=list)
    stopped_at: datetime | None = None

    def switch(self, at: datetime, *, paused: bool) -> None:
        if self.stopped_at is not None:
            return
        if self.segments and self.segments[-1][2] is None:
            was_paused, start, _ = self.segments[-1]
            if was_paused == paused:
                return
            self.segments[-1] = (was_paused, start, at)
        self.segments.append((paused, at, None))

    def stop(self, at: datetime) -> None:
        if self.stopped_at is None:
            if self.segments and self.segments[-1][2] is None:
                paused, start, _ = self.segments[-1]
                self.segments[-1] = (paused, start, at)
            self.stopped_at = at


@dataclass
class _Replay:
    pause_states: frozenset[str]
    status: str = "received"
    responded: bool = False
    cycles: dict[str, list[_Cycle]] = field(default_factory=dict)

    @property
    def paused(self) -> bool:
        return self.status in self.pause_states

    def start(self, clock: str, event: ClockEvent) -> None:
        cycle = _Cycle(event.id, event.at)
        cycle.switch(event.at, paused=self.paused)
        self.cycles.setdefault(clock, []).append(cycle)

    def current(self, clock: str) -> _Cycle | None:
        found = self.cycles.get(clock)
        return found[-1] if found and found[-1].stopped_at is None else None

    def stop(self, clock: str, at: datetime) -> None:
        cycle = self.current(clock)
        if cycle is not None:
            cycle.stop(at)

    def apply(self, event: ClockEvent) -> None:
        if event.kind == "created":
            for clock in ("triage", "first_response", "resolution"):
                self.start(clock, event)
            return
        if event.kind in HUMAN_KINDS and event.actor not in MACHINE_ACTORS:
            self.stop("triage", event.at)
        if event.kind == "message" and self.responded and self.current("next_response") is None:
            self.start("next_response", event)
        elif event.kind == "responded":
            self.responded = True
            self.stop("first_response", event.at)
            self.stop("next_response", event.at)
        elif event.kind == "status" and event.new:
            self._status(event.new, event.at)

    def _status(self, status: str, at: datetime) -> None:
        self.status = status
        if status == "closed":
            for clock in list(self.cycles):
                self.stop(clock, at)
            return
        for cycles in self.cycles.values():
            if cycles[-1].stopped_at is None:
                cycles[-1].switch(at, paused=self.paused)


def replay(events: Sequence[ClockEvent], pause_states: Sequence[str]) -> dict[str, list[_Cycle]]:
    state = _Replay(frozenset(pause_states))
    for event in sorted(events, key=lambda e: (e.at, e.id)):
        state.apply(event)
    return state.cycles


def read_clocks(
    events: Sequence[ClockEvent],
    specs: Callable[[str], ClockSpec | None],
    pause_states: Sequence[str],
    now: datetime,
) -> list[Reading]:
    """The latest cycle of every clock that has a target (raises UnknownYearError when needed)."""
    readings: list[Reading] = []
    known = [e for e in events if e.at <= now]  # a reading "as of" a past time ignores later events
    for clock, cycles in replay(known, pause_states).items():
        spec = specs(clock)
        if spec is not None and cycles:
            readings.append(_read(cycles[-1], spec, now))
    order = ("triage", "first_response", "next_response", "resolution")
    return sorted(readings, key=lambda r: order.index(r.clock) if r.clock in order else len(order))


def _read(cycle: _Cycle, spec: ClockSpec, now: datetime) -> Reading:
    cal = spec.calendar
    elapsed = paused = ZERO
    open_running: datetime | None = None
    for is_paused, start, end in cycle.segments:
        if end is None and not is_paused:
            open_running = start
        span = cal.working_between(start, end or now)
        if is_paused:
            paused += span
        else:
            elapsed += span
    phase: Phase = "stopped" if cycle.stopped_at is not None and cycle.stopped_at <= now else (
        "running" if open_running is not None else "paused"
    )
    ratio = elapsed / spec.target if spec.target else 1.0
    level: Level = "breached" if ratio >= 1 else "warning" if ratio >= spec.warn_at else "ok"
    due = warn = None
    if phase != "stopped":
        base = open_running or now
        before = elapsed - (cal.working_between(open_running, now) if open_running else ZERO)
        due = cal.add_working(base, max(spec.target - before, ZERO))
        warn = cal.add_working(base, max(spec.target * spec.warn_at - before, ZERO))
    return Reading(
        clock=spec.name,
        cycle=cycle.cycle,
        target=spec.target,
        started_at=cal.add_working(cycle.started_at, ZERO),
        elapsed=elapsed,
        paused=paused,
        phase=phase,
        level=level,
        due_at=due,
        warn_due_at=warn,
        stopped_at=cycle.stopped_at if phase == "stopped" else None,
    )
