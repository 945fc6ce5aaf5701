"""Leases with expiry and an epoch used as a fencing token, on SQLite, PostgreSQL and MariaDB.

An instance that lost a source's lease (expired, taken over) cannot commit a batch or a
checkpoint; a takeover waits for the holder's batch transaction (the lease row lock), so a batch
commits either before the takeover or not at all.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from monitor.leases import LEADER, LeaseLost, Leases, check_fence, member_lease, source_lease
from monitor.message import Batch
from monitor.pipeline import load_checkpoint, process_batch
from monitor.storage.db import Database
from monitor.storage.models import StoredMessage
from tests.helpers.builders import KeywordStub, message
from tests.helpers.context import context

T0 = datetime(2099, 1, 1, 8, 0, tzinfo=UTC)  # after any real time a fence check renews with (was today: a time bomb)
ANALYZER = KeywordStub({"紧急": ("L1", True)})


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def pair(db: Database, seconds: float = 10) -> tuple[Leases, Leases, Clock]:
    clock = Clock(T0)
    return Leases(db, "a", seconds, clock=clock), Leases(db, "b", seconds, clock=clock), clock


def stored(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(StoredMessage)) or 0)


def test_a_held_lease_is_refused_to_others_until_it_expires_then_taken_with_a_new_epoch(any_db: Database) -> None:
    a, b, clock = pair(any_db)
    first = a.acquire(source_lease("mail"))
    assert first is not None and first.epoch == 1
    assert b.acquire(source_lease("mail")) is None
    clock.at = T0 + timedelta(seconds=8)
    assert a.renew(first)  # expires at +18 s now
    clock.at = T0 + timedelta(seconds=15)
    assert b.acquire(source_lease("mail")) is None
    clock.at = T0 + timedelta(seconds=19)
    second = b.acquire(source_lease("mail"))
    assert second is not None and second.epoch == 2 and second.holder == "b"
    assert not a.renew(first)  # the old holder learns it lost the lease
    assert a.holders() == {"source:mail": ("b", 2, T0 + timedelta(seconds=29))}


def test_a_released_lease_is_free_at_once_and_a_restart_of_the_same_instance_bumps_the_epoch(
    any_db: Database,
) -> None:
    a, b, _ = pair(any_db)
    old = a.acquire(LEADER)
    assert old is not None
    restarted = Leases(any_db, "a", 10, clock=a.clock).acquire(LEADER)
    assert restarted is not None and restarted.epoch == old.epoch + 1
    assert not a.renew(old)  # a zombie of the previous process is fenced off
    assert a.release(restarted)
    taken = b.acquire(LEADER)
    assert taken is not None and taken.epoch == restarted.epoch + 1


def test_a_batch_from_an_instance_that_lost_the_lease_commits_nothing(any_db: Database) -> None:
    a, b, clock = pair(any_db)
    stale = a.acquire(source_lease("src"))
    assert stale is not None
    ctx = context(any_db, ANALYZER, clock=utcnow_real)
    process_batch(ctx, "src", "files", Batch((message("m1"),), {"pos": 1}), fence=stale)
    assert (stored(any_db), load_checkpoint(any_db, "src")) == (1, {"pos": 1})

    clock.at = T0 + timedelta(seconds=60)  # a paused: its lease ran out and b took the source
    fresh = b.acquire(source_lease("src"))
    assert fresh is not None and fresh.epoch == stale.epoch + 1
    with pytest.raises(LeaseLost):
        process_batch(ctx, "src", "files", Batch((message("m2"), message("m3")), {"pos": 3}), fence=stale)
    with pytest.raises(LeaseLost):  # halves stored without the checkpoint are fenced as well
        process_batch(ctx, "src", "files", Batch((message("m2"),), {"pos": 2}), fence=stale, advance_checkpoint=False)
    assert (stored(any_db), load_checkpoint(any_db, "src")) == (1, {"pos": 1})

    process_batch(ctx, "src", "files", Batch((message("m2"), message("m3")), {"pos": 3}), fence=fresh)
    assert (stored(any_db), load_checkpoint(any_db, "src")) == (3, {"pos": 3})


def utcnow_real() -> datetime:
    return datetime.now(UTC)


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_a_takeover_waits_for_the_holders_open_transaction(kind: str) -> None:
    """The fence check locks the lease row: a takeover attempted meanwhile blocks until the batch
    commits, then finds the lease renewed by it (the batch was valid) and fails."""
    from tests.conftest import server_database

    with server_database(kind) as url:
        db = Database(url)
        try:
            db.upgrade()
            # a's lease (as committed) ran out a moment ago; its batch renews it in the same
            # transaction that b's takeover races against
            a = Leases(db, "a", 5, clock=lambda: datetime.now(UTC) - timedelta(seconds=10))
            b = Leases(db, "b", 5, clock=lambda: datetime.now(UTC) + timedelta(seconds=1))
            fence = a.acquire(source_lease("s"))
            assert fence is not None
            result: dict[str, object] = {}
            with db.transaction() as session:
                check_fence(session, fence, now=datetime.now(UTC))  # row locked until the commit
                taker = threading.Thread(target=lambda: result.update(taken=b.acquire(source_lease("s"))))
                taker.start()
                taker.join(1.5)
                assert taker.is_alive(), "the takeover must wait for the lease row lock"
                time.sleep(0.2)
            taker.join(10)
            assert result == {"taken": None}  # the commit renewed the lease: not expired for b
            with db.transaction() as session:
                check_fence(session, fence, now=datetime.now(UTC))  # still a's
        finally:
            db.dispose()


def test_fair_share_counts_live_instances(sqlite_db: Database) -> None:
    a, b, clock = pair(sqlite_db)
    assert a.acquire("instance:a") is not None
    assert a.fair_share(20) == 20
    assert b.acquire("instance:b") is not None
    assert (a.fair_share(20), a.fair_share(3)) == (10, 2)
    clock.at = T0 + timedelta(seconds=11)  # both stopped renewing: at least this instance counts
    assert a.fair_share(20) == 20


def test_a_dead_instances_sources_are_free_and_its_share_counted_out_at_the_same_instant(any_db: Database) -> None:
    """The dead instance renewed its member lease no later than its source leases (the lease job
    renews the member first), so when its sources expire it is no longer counted: the survivor's
    share has grown by then and it can take them that instant, not one renewal later. Until then
    ``takeover`` says when to look again: the earliest foreign expiry."""
    a, b, clock = pair(any_db)
    members = {leases.holder: leases.acquire(member_lease(leases.holder)) for leases in (a, b)}
    s2 = a.acquire(source_lease("s2"))
    assert a.acquire(source_lease("s1")) is not None and s2 is not None
    clock.at = T0 + timedelta(seconds=2)
    assert b.acquire(source_lease("s3")) is not None
    assert a.renew(s2)  # a poll renews s2 later than a's member lease: until +12 s

    found = b.takeover(["s1", "s2", "s4"])  # s4: no row yet (never polled)
    assert (found.free, found.wake) == (["s4"], T0 + timedelta(seconds=10))  # a's member and s1
    assert b.fair_share(4) == 2

    clock.at = T0 + timedelta(seconds=5)
    b_member = members["b"]
    assert b_member is not None and b.renew(b_member)  # b lives on: until +15 s
    clock.at = T0 + timedelta(seconds=10)  # a died after T0 + 2 s: its member lease and s1 run out
    found = b.takeover(["s1", "s2", "s4"])
    assert (found.free, found.wake) == (["s1", "s4"], T0 + timedelta(seconds=12))
    assert (b.members(), b.fair_share(4)) == (1, 4)
    taken = b.acquire(source_lease("s1"))
    assert taken is not None and taken.epoch == 2
    clock.at = T0 + timedelta(seconds=12)
    assert b.takeover(["s2", "s4"]).free == ["s2", "s4"]
