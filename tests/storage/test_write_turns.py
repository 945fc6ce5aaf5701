"""SQLite writers of one process take turns: woken when the turn is free, urgent ones first, and a
poll batch that has waited long enough is not passed over again."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from monitor.storage.db import Database, WriteTurns
from monitor.storage.models import Source


def hold_then_queue(turns: WriteTurns, waiters: list[tuple[str, bool]], *, hold: float = 0.2) -> list[str]:
    """One thread holds the turn while ``waiters`` (name, urgent) queue up in this order; the order
    in which they then got the turn."""
    order: list[str] = []
    holding = threading.Event()

    def holder() -> None:
        with turns.turn():
            holding.set()
            time.sleep(hold)

    def waiter(name: str, urgent: bool) -> None:
        with turns.turn(urgent=urgent):
            order.append(name)

    threads = [threading.Thread(target=holder)]
    threads[0].start()
    holding.wait(5)
    for name, urgent in waiters:
        thread = threading.Thread(target=waiter, args=(name, urgent))
        thread.start()
        threads.append(thread)
        time.sleep(0.02)  # queued in this order
    for thread in threads:
        thread.join(10)
    return order


def test_an_urgent_writer_goes_before_writers_that_waited_longer() -> None:
    order = hold_then_queue(WriteTurns(patience=5), [("poll-1", False), ("poll-2", False), ("intake", True)])
    assert order[0] == "intake" and sorted(order[1:]) == ["poll-1", "poll-2"]


def test_a_writer_that_waited_its_patience_is_not_passed_over_by_urgent_ones() -> None:
    turns = WriteTurns(patience=0.05)
    order = hold_then_queue(turns, [("poll", False), ("intake", True)], hold=0.3)
    assert order == ["poll", "intake"]


def test_the_turn_is_reentrant_and_free_again_after_an_error() -> None:
    turns = WriteTurns()
    try:
        with turns.turn(), turns.turn(urgent=True):
            raise RuntimeError("inside")
    except RuntimeError:
        pass
    done = threading.Event()

    def other() -> None:
        with turns.turn():
            done.set()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(5)
    assert done.is_set()


def test_a_writer_that_cannot_get_its_turn_fails_like_a_locked_database() -> None:
    turns = WriteTurns(timeout=0.2)
    holding, done = threading.Event(), threading.Event()

    def holder() -> None:
        with turns.turn():
            holding.set()
            done.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    holding.wait(5)
    try:
        with pytest.raises(OperationalError, match="database is locked"), turns.turn(urgent=True):
            pass
    finally:
        done.set()
        thread.join(5)
    with turns.turn():  # the failed waiter left nothing behind
        pass


def test_sqlite_transactions_of_many_threads_all_commit(sqlite_db: Database) -> None:
    def write(index: int) -> None:
        for round_ in range(5):
            with sqlite_db.transaction(urgent=index % 2 == 0) as session:
                session.add(Source(name=f"s{index}-{round_}", kind="test"))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    with sqlite_db.read() as session:
        assert session.scalar(select(func.count()).select_from(Source)) == 40
    assert sqlite_db.turns is not None
