"""Leases with expiry and fencing, kept in the ``leases`` table of the shared database.

Several daemon instances may share one PostgreSQL or MariaDB database (docs/scaling.md). Each
source is polled by the one instance holding its ``source:<name>`` lease; story timers, SLA
clocks and report jobs run on the instance holding ``leader``; every live instance renews an
``instance:<id>`` lease so the others know how many share the sources.

No consensus protocol of our own: every step is one conditional ``UPDATE`` whose row lock and
transaction the database provides.

- **acquire**: ``UPDATE ... SET holder=me, epoch=epoch+1`` where the lease is free, expired or
  already ours (a restarted instance takes its own leases back at once). The new epoch is the
  **fencing token**.
- **renew**: ``UPDATE ... SET expires_at=...`` where holder and epoch are still ours.
- **fence** (in the writer's own transaction, just before its commit): the same renewal; when no
  row matches, another instance has taken over (a higher epoch) and :class:`LeaseLost` rolls the
  whole transaction back. The row lock taken by that UPDATE makes a concurrent takeover wait for
  our commit, so a batch either commits before the takeover or not at all.

Expiry uses each instance's clock (keep them NTP-synchronised); skew only delays a takeover -
the epoch check keeps a stale writer out whatever the clocks say.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor.errors import YuqingError
from monitor.storage.db import Database
from monitor.storage.models import Lease, utcnow

LEADER = "leader"
_EPOCH_START = datetime(1970, 1, 1, tzinfo=UTC)


def source_lease(name: str) -> str:
    return f"source:{name}"


def member_lease(instance: str) -> str:
    return f"instance:{instance}"


class LeaseLost(YuqingError):
    """The lease behind a write is no longer ours (expired and taken over): nothing committed."""


@dataclass(frozen=True, slots=True)
class Fence:
    """Proof of holding a lease: its name, our holder id and the epoch we acquired."""

    name: str
    holder: str
    epoch: int
    seconds: float
    """The lease's length: each successful check extends it by this much."""


@dataclass(frozen=True, slots=True)
class Takeover:
    """What :meth:`Leases.takeover` found: sources free to take now, when to look again."""

    free: list[str]
    wake: datetime | None
    others: dict[str, str]
    """Source -> holder, for the sources another instance holds (unexpired)."""


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def check_fence(session: Session, fence: Fence, *, now: datetime | None = None) -> None:
    """In the caller's transaction: renew ``fence`` or raise :class:`LeaseLost` (rolls it back).

    The UPDATE locks the lease row until the caller commits, so a takeover cannot slip in
    between this check and the commit.
    """
    moment = now or utcnow()
    result = session.execute(
        update(Lease)
        .where(Lease.name == fence.name, Lease.holder == fence.holder, Lease.epoch == fence.epoch)
        .values(expires_at=moment + timedelta(seconds=fence.seconds))
        .execution_options(synchronize_session=False)
    )
    if _rowcount(result) != 1:
        raise LeaseLost(f"lease {fence.name} epoch {fence.epoch} is no longer held by {fence.holder}")


class Leases:
    """Acquire, renew and release named leases for one holder (this instance)."""

    def __init__(
        self, db: Database, holder: str, seconds: float, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.db = db
        self.holder = holder
        self.seconds = seconds
        self.clock = clock

    def _ensure(self, name: str) -> None:
        """The lease row exists (free); a concurrent insert by another instance is fine."""
        with self.db.read() as session:
            if session.scalar(select(Lease.name).where(Lease.name == name)) is not None:
                return
        try:
            with self.db.transaction() as session:
                session.execute(insert(Lease).values(name=name, holder=None, epoch=0, expires_at=_EPOCH_START))
        except IntegrityError:
            pass  # another instance created it

    def acquire(self, name: str) -> Fence | None:
        """Take ``name`` if it is free, expired or ours; a new epoch each time. None: held elsewhere."""
        self._ensure(name)
        now = self.clock()
        with self.db.transaction() as session:
            result = session.execute(
                update(Lease)
                .where(
                    Lease.name == name,
                    (Lease.holder.is_(None)) | (Lease.holder == self.holder) | (Lease.expires_at <= now),
                )
                .values(holder=self.holder, epoch=Lease.epoch + 1, expires_at=now + timedelta(seconds=self.seconds))
                .execution_options(synchronize_session=False)
            )
            if _rowcount(result) != 1:
                return None
            epoch = session.scalar(select(Lease.epoch).where(Lease.name == name))
        return Fence(name, self.holder, int(epoch or 0), self.seconds)

    def renew(self, fence: Fence) -> bool:
        """Extend ``fence``; False when it was taken over (or released) meanwhile."""
        try:
            with self.db.transaction() as session:
                check_fence(session, fence, now=self.clock())
        except LeaseLost:
            return False
        return True

    def release(self, fence: Fence) -> bool:
        """Give ``fence`` up now (clean shutdown, rebalancing) so another instance need not wait."""
        with self.db.transaction() as session:
            result = session.execute(
                update(Lease)
                .where(Lease.name == fence.name, Lease.holder == fence.holder, Lease.epoch == fence.epoch)
                .values(holder=None, expires_at=self.clock())
                .execution_options(synchronize_session=False)
            )
            return _rowcount(result) == 1

    def members(self, prefix: str = "instance:") -> int:
        """Live instances: unexpired ``instance:<id>`` leases (at least 1: this one)."""
        with self.db.read() as session:
            count = session.scalar(
                select(func.count()).select_from(Lease).where(Lease.name.like(f"{prefix}%"), Lease.expires_at > self.clock())
            )
        return max(1, int(count or 0))

    def fair_share(self, total: int) -> int:
        """How many of ``total`` sources one instance takes while others are alive."""
        return max(1, math.ceil(total / self.members())) if total else 0

    def takeover(self, sources: list[str]) -> Takeover:
        """Which of ``sources`` (not ours) can be taken now, and when to look again.

        ``free``: source leases with no holder, expired, or never created. ``wake``: the earliest
        expiry among the other instances' unexpired source and member leases - when one of their
        sources can be taken, or our fair share grows because a member died. Boundaries match
        :meth:`acquire` and :meth:`members`: at ``expires_at`` the lease is taken and the member
        no longer counted, at the same instant."""
        now = self.clock()
        rows = self.holders("")
        wanted = {source_lease(name): name for name in sources}
        free = []
        others = {}
        for lease, name in wanted.items():
            holder, _, expires = rows.get(lease, (None, 0, _EPOCH_START))
            if holder != self.holder and (holder is None or expires <= now):
                free.append(name)
            elif holder is not None and holder != self.holder:
                others[name] = holder
        later = [
            expires
            for lease, (holder, _, expires) in rows.items()
            if holder not in (None, self.holder) and expires > now and (lease in wanted or lease.startswith("instance:"))
        ]
        return Takeover(free, min(later, default=None), others)

    def holders(self, prefix: str = "source:") -> dict[str, tuple[str | None, int, datetime]]:
        """name -> (holder, epoch, expires_at) for the leases under ``prefix`` (status, tests)."""
        with self.db.read() as session:
            rows = session.execute(
                select(Lease.name, Lease.holder, Lease.epoch, Lease.expires_at).where(Lease.name.like(f"{prefix}%"))
            )
            return {name: (holder, int(epoch), expires) for name, holder, epoch, expires in rows}
