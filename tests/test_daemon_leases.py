"""Two daemons on one database share the sources by lease, and take over when one stops.

The daemon's own poll and lease housekeeping are driven by hand (no scheduler), so the sequence
is exact: fair share while both live, a clean stop hands every lease over at once, and a source
held by the other instance is not polled.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from structlog.testing import capture_logs

from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.leases import LeaseLost
from monitor.scheduler import TAKEOVER_JOB, make_scheduler, poll_job_id
from monitor.storage.models import Source, StoredMessage, utcnow
from tests.helpers.builders import write_config, write_rules

SOURCES = ("s0", "s1", "s2", "s3")


def daemon(tmp_path: Path, name: str) -> Daemon:
    rules = write_rules(tmp_path / "rules")
    sources = []
    for source in SOURCES:
        folder = tmp_path / "in" / source
        folder.mkdir(parents=True, exist_ok=True)
        files = {"path": str(folder), "settle_seconds": 0}
        sources.append({"name": source, "kind": "files", "interval_seconds": 1, "files": files})
    path = write_config(
        tmp_path / f"{name}.yaml",
        {
            "instance": {"id": name, "lease_seconds": 30},
            "state_dir": str(tmp_path / "state"),
            "database": {"url": f"sqlite:///{tmp_path / 'shared.db'}"},
            "rules": {"paths": [str(rules)]},
            "analysis": {"workers": 1},
            "sources": sources,
        },
    )
    config = load_config(path)
    instance = Daemon(path, config)
    instance.runtime.db.upgrade()
    return instance


def drop(tmp_path: Path, source: str, ids: list[str]) -> None:
    lines = "".join(json.dumps({"id": i, "text": f"反馈 {i}"}, ensure_ascii=False) + "\n" for i in ids)
    (tmp_path / "in" / source / f"{ids[0]}.jsonl").write_text(lines, encoding="utf-8")


def stored(instance: Daemon) -> dict[str, int]:
    with instance.runtime.db.read() as session:
        rows = session.execute(
            select(Source.name, func.count(StoredMessage.id)).join(StoredMessage).group_by(Source.name)
        )
        return {name: int(n) for name, n in rows}


def test_two_daemons_split_the_sources_and_the_survivor_takes_them_all(tmp_path: Path) -> None:
    a, b = daemon(tmp_path, "a"), daemon(tmp_path, "b")
    try:
        a.keep_leases()
        b.keep_leases()  # two live instances: two sources each
        for source in SOURCES:
            drop(tmp_path, source, [f"{source}-1", f"{source}-2"])
        polled_by: dict[str, str] = {}
        for source in a.runtime.config.sources:
            polled_by[source.name] = "a" if a.poll(source) else "b" if b.poll(source) else ""
        assert sorted(polled_by.values()) == ["a", "a", "b", "b"]
        assert stored(a) == dict.fromkeys(SOURCES, 2)
        held = {name: (who, epoch) for name, (who, epoch, _) in a.leases.holders().items()}
        assert held == {f"source:{s}": (who, 1) for s, who in polled_by.items()}

        for source in SOURCES:  # held elsewhere: not polled, nothing stored by the wrong instance
            drop(tmp_path, source, [f"{source}-3"])
        for source in a.runtime.config.sources:
            other = b if polled_by[source.name] == "a" else a
            assert other.poll(source) is None
        assert stored(a) == dict.fromkeys(SOURCES, 2)

        a._release_leases()  # a stops cleanly: b takes every source at its next poll
        for source in b.runtime.config.sources:
            assert b.poll(source) is not None
        assert stored(b) == dict.fromkeys(SOURCES, 3)
        assert {who for who, _, _ in b.leases.holders().values()} == {"b"}
    finally:
        a.runtime.close()
        b.runtime.close()
        a.runtime.db.dispose()
        b.runtime.db.dispose()


def test_run_once_skips_sources_another_instance_holds_without_failing(tmp_path: Path) -> None:
    a, b = daemon(tmp_path, "a"), daemon(tmp_path, "b")
    try:
        for source in SOURCES:
            drop(tmp_path, source, [f"{source}-1"])
        b.keep_leases()
        held = b.runtime.config.sources[0]
        assert b.poll(held) is not None  # b holds s0 (and keeps it: it is alive)
        drop(tmp_path, held.name, [f"{held.name}-2"])
        assert a.run_once() == 0
        assert stored(a) == {"s0": 1, "s1": 1, "s2": 1, "s3": 1}  # s0's new file is b's to read
        assert {who for who, _, _ in a.leases.holders().values()} == {"b", None}  # a released its own
    finally:
        for instance in (a, b):
            instance.runtime.close()
            instance.runtime.db.dispose()


def test_the_survivor_takes_a_dead_instances_sources_when_they_expire_and_polls_them_at_once(tmp_path: Path) -> None:
    """``take_over`` (the lease job, and a one-shot wake at the earliest foreign expiry) takes the
    expired leases up to the grown fair share and brings each source's poll job forward to now,
    instead of waiting for the next poll tick."""
    a, b = daemon(tmp_path, "a"), daemon(tmp_path, "b")
    b.scheduler = make_scheduler(b.runtime.config.scheduler, workers=2)
    b.scheduler.start(paused=True)  # jobs are kept and scheduled, none runs: the test drives
    try:
        b._schedule_sources()
        for source in SOURCES:  # every poll tick an hour away: only take_over can bring one forward
            b.scheduler.get_job(poll_job_id(source)).modify(next_run_time=utcnow() + timedelta(hours=1))
        a.keep_leases()
        b.keep_leases()
        for source in a.runtime.config.sources:
            assert a.poll(source) is not None or b.poll(source) is not None
        mine = set(b.fences)
        assert len(mine) == 2 and len(a.fences) == 2
        b.take_over()  # a is alive: nothing to take; look again when a's first lease expires
        assert set(b.fences) == mine
        assert b.elsewhere == dict.fromkeys(set(SOURCES) - mine, "a")
        checks = {c.name: c for c in b.health_provider().readiness().checks}  # a answers for its own
        assert all(checks[f"source:{n}"].ok and "instance a" in checks[f"source:{n}"].detail for n in b.elsewhere)
        wake = b.scheduler.get_job(TAKEOVER_JOB).next_run_time
        a_expiry = min(expires for who, _, expires in a.leases.holders("").values() if who == "a")
        assert wake == a_expiry + timedelta(seconds=0.02)

        for source in SOURCES:
            drop(tmp_path, source, [f"{source}-late"])
        later = utcnow() + timedelta(seconds=31)  # a was killed: 31 s on, its leases have run out
        b.leases.clock = lambda: later
        asked = utcnow()
        b.take_over()
        assert set(b.fences) == set(SOURCES) and b.elsewhere == {}
        for name in set(SOURCES) - mine:
            assert b.leases.holders()[f"source:{name}"][:2] == ("b", 2)
            assert b.scheduler.get_job(poll_job_id(name)).next_run_time - asked < timedelta(seconds=1)
        for name in mine:  # b's own sources keep their tick
            assert b.scheduler.get_job(poll_job_id(name)).next_run_time - asked > timedelta(minutes=59)
        with capture_logs() as events:
            for source in b.runtime.config.sources:
                assert b.poll(source) is not None
        first = {e["source"] for e in events if e["event"] == "lease_first_poll"}
        assert first == set(SOURCES) - mine
        assert stored(b) == dict.fromkeys(SOURCES, 1)  # the new files, a's sources' too
    finally:
        b.scheduler.shutdown(wait=False)
        for instance in (a, b):
            instance.runtime.close()
            instance.runtime.db.dispose()


def test_a_batch_fenced_off_under_an_old_lease_does_not_drop_the_one_taken_since(tmp_path: Path) -> None:
    """A poll that began before a pause fails with LeaseLost after this instance took the source
    again: the newer lease stays held (it was dropped before, unrenewed until it expired)."""
    b = daemon(tmp_path, "b")
    try:
        source = b.runtime.config.sources[0]
        assert b.poll(source) is not None
        old = b.fences[source.name]
        b._drop_fence(source.name, release=True, why="test")
        assert b.poll(source) is not None
        new = b.fences[source.name]
        assert new.epoch == old.epoch + 1
        b._lease_lost(source.name, LeaseLost("old batch"), old)
        b._drop_fence(source.name, release=False, why="taken over", only=old)
        assert b.fences[source.name] == new and b.leases.renew(new)
        b._lease_lost(source.name, LeaseLost("this batch"), new)
        assert source.name not in b.fences
    finally:
        b.runtime.close()
        b.runtime.db.dispose()


def test_take_over_leaves_a_source_whose_stale_poll_still_runs_here_to_the_others(tmp_path: Path) -> None:
    """A poll begun under a lease this instance has since lost (it was paused) still occupies the
    source's job: taking the source now would leave it unpolled until that poll ends."""
    a, b = daemon(tmp_path, "a"), daemon(tmp_path, "b")
    try:
        a.keep_leases()
        for source in a.runtime.config.sources:
            assert a.poll(source) is not None  # a alone: it holds all four
        later = utcnow() + timedelta(seconds=31)  # a is gone
        b.leases.clock = lambda: later
        b._inflight.add("s1")  # b's own poll of s1, from before it lost s1, has not returned yet
        b.take_over()
        assert set(b.fences) == {"s0", "s2", "s3"}
        b._inflight.discard("s1")
        b.take_over()
        assert set(b.fences) == set(SOURCES)
    finally:
        for instance in (a, b):
            instance.runtime.close()
            instance.runtime.db.dispose()
