"""Noise control: quiet hours with priority override, digests, hourly cap with one overflow
summary, silences on ticket alerts - all state in rows, so a restart (a new Outbox) and a second
instance sharing the database see it. Injected clock, no sleeps."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import func, select

from monitor.alerts.noise import Action, Window, decide, quiet_until
from monitor.alerts.outbox import Outbox
from monitor.alerts.senders.base import Sender, SenderConfig, SendResult
from monitor.config import AlertsConfig, load_config
from monitor.errors import ConfigError
from monitor.message import Batch
from monitor.pipeline import process_batch
from monitor.storage.db import Database
from monitor.storage.models import Alert, TicketEvent
from monitor.stories.silences import add_silence
from monitor.targets import NoiseConfig, TargetConfig
from tests.helpers.builders import KeywordStub, message
from tests.helpers.context import context

ANALYZER = KeywordStub({"紧急": ("L1", True), "重要": ("L2", True), "一般": ("L3", True)})
# 2026-12-01 23:30 in Shanghai (15:30 UTC): inside a 22:00-08:00 quiet window
NIGHT = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)
MORNING = datetime(2026, 12, 2, 0, 0, tzinfo=UTC)  # 08:00 Shanghai
DAY = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)  # 10:00 Shanghai


class Recorder(Sender):
    kind: ClassVar[str] = "recorder"
    Config = SenderConfig

    def __init__(self, name: str = "rec") -> None:
        super().__init__(name, SenderConfig())
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def send(self, payload: dict[str, Any]) -> SendResult:
        with self._lock:
            self.received.append(payload)
        return SendResult.ok()


def target(**noise: Any) -> TargetConfig:
    return TargetConfig(name="rec", kind="console", **noise)


def seed(db: Database, texts: list[str], tgt: TargetConfig, *, start: int = 0) -> None:
    batch = Batch(tuple(message(f"m{start + i}", f"t{start + i}", t) for i, t in enumerate(texts)), {})
    process_batch(context(db, ANALYZER, [tgt]), "src", "files", batch)


def outbox(db: Database, tgt: TargetConfig, at: datetime, recorder: Recorder, instance: str = "a") -> Outbox:
    box = Outbox(db, {"rec": recorder}, AlertsConfig(targets=[tgt]), instance=instance)
    box.clock = lambda: at
    return box


def kinds(recorder: Recorder) -> list[tuple[str, str | None]]:
    return [(p["kind"], p.get("priority")) for p in recorder.received]


QUIET = NoiseConfig(quiet_hours=("22:00-08:00",))


@pytest.mark.parametrize(
    ("config", "priority", "kind", "now", "window", "action", "due"),
    [
        (QUIET, "L1", "ticket", NIGHT, Window(), Action.SEND, None),
        (QUIET, "L2", "incident", NIGHT, Window(), Action.DIGEST, MORNING),
        (QUIET, "L2", "ticket", DAY, Window(), Action.SEND, None),
        (
            NoiseConfig(always_page=("L1", "L2"), quiet_hours=("22:00-08:00",)),
            "L2",
            "ticket",
            NIGHT,
            Window(),
            Action.SEND,
            None,
        ),
        (
            NoiseConfig(digest={"every_minutes": 10}),
            "L3",
            "ticket",
            DAY,
            Window(),
            Action.DIGEST,
            DAY + timedelta(minutes=10),
        ),
        (NoiseConfig(digest={"every_minutes": 10}), "L2", "ticket", DAY, Window(), Action.SEND, None),
        (NoiseConfig(max_per_hour=2), "L2", "ticket", DAY, Window(1, DAY), Action.SEND, None),
        (
            NoiseConfig(max_per_hour=2),
            "L2",
            "ticket",
            DAY,
            Window(2, DAY - timedelta(minutes=20)),
            Action.OVERFLOW,
            DAY + timedelta(minutes=40),
        ),
        (NoiseConfig(max_per_hour=2), "L1", "incident", DAY, Window(9, DAY), Action.SEND, None),
        (NoiseConfig(max_per_hour=2), "L3", "overflow", DAY, Window(9, DAY), Action.SEND, None),
        (NoiseConfig(), "L3", "ticket", NIGHT, Window(99, DAY), Action.SEND, None),
    ],
    ids=[
        "l1-pages-in-quiet-hours",
        "l2-in-quiet-hours-waits-for-morning-digest",
        "l2-outside-quiet-hours-sends",
        "override-configurable",
        "l3-digested",
        "l2-not-digested",
        "under-cap-sends",
        "over-cap-overflow-when-oldest-leaves-hour",
        "l1-never-capped",
        "summaries-never-capped",
        "no-settings-no-change",
    ],
)
def test_decide(
    config: NoiseConfig,
    priority: str,
    kind: str,
    now: datetime,
    window: Window,
    action: Action,
    due: datetime | None,
) -> None:
    decision = decide(config, priority=priority, kind=kind, now=now, window=window)
    assert (decision.action, decision.due) == (action, due)


@pytest.mark.parametrize(
    ("windows", "zone", "now", "end"),
    [
        (("22:00-08:00",), "Asia/Shanghai", NIGHT, MORNING),
        (("22:00-08:00",), "Asia/Shanghai", datetime(2026, 12, 1, 23, 59, tzinfo=UTC), MORNING),
        (("22:00-08:00",), "Asia/Shanghai", MORNING, None),
        (("22:00-08:00",), "UTC", NIGHT, None),
        (
            ("12:00-14:00",),
            "UTC",
            datetime(2026, 12, 1, 13, 0, tzinfo=UTC),
            datetime(2026, 12, 1, 14, 0, tzinfo=UTC),
        ),
        (("22:00-02:00", "02:00-08:00"), "Asia/Shanghai", NIGHT, MORNING),
        (("00:00-24:00",), "UTC", DAY, datetime(2026, 12, 3, tzinfo=UTC)),
    ],
    ids=[
        "crosses-midnight",
        "after-midnight",
        "end-is-outside",
        "utc-target",
        "daytime",
        "adjacent-windows-join",
        "all-day",
    ],
)
def test_quiet_until(windows: tuple[str, ...], zone: str, now: datetime, end: datetime | None) -> None:
    config = NoiseConfig(timezone=zone, quiet_hours=windows)  # type: ignore[arg-type]
    assert quiet_until(config, now) == end


def test_quiet_hours_page_l1_and_hold_the_rest_for_one_morning_digest(any_db: Database) -> None:
    tgt = target(quiet_hours=("22:00-08:00",))
    seed(any_db, ["紧急 起火", "重要 退款", "一般 咨询"], tgt)
    night = Recorder()
    outbox(any_db, tgt, NIGHT, night).deliver()
    assert kinds(night) == [("ticket", "L1")]
    # a restart in the night: nothing more, the held rows wait in the database
    assert outbox(any_db, tgt, NIGHT + timedelta(hours=4), night).deliver().sent == 0
    morning = Recorder()
    outbox(any_db, tgt, MORNING, morning, instance="b").deliver()
    assert kinds(morning) == [("digest", "L2")]
    digest = morning.received[0]
    assert [(i["priority"], i["ref"]) for i in digest["items"]] == [("L2", "Q000002"), ("L3", "Q000003")]
    assert digest["idempotency_key"].startswith("digest:rec:") and digest["count"] == 2
    assert outbox(any_db, tgt, MORNING + timedelta(hours=1), morning).deliver().sent == 0


def test_lower_priority_alerts_are_collected_into_one_digest_every_n_minutes(any_db: Database) -> None:
    tgt = target(digest={"priorities": ["L3"], "every_minutes": 10})
    got = Recorder()
    seed(any_db, ["一般 a", "一般 b", "重要 c"], tgt)
    outbox(any_db, tgt, DAY, got).deliver()
    seed(any_db, ["一般 d"], tgt, start=3)
    outbox(any_db, tgt, DAY + timedelta(minutes=5), got).deliver()
    assert kinds(got) == [("ticket", "L2")]
    outbox(any_db, tgt, DAY + timedelta(minutes=10), got).deliver()
    assert kinds(got) == [("ticket", "L2"), ("digest", "L3")]
    assert [i["title"] for i in got.received[1]["items"]] == ["一般 a", "一般 b", "一般 d"]
    # the next L3 starts a new digest
    seed(any_db, ["一般 e"], tgt, start=4)
    outbox(any_db, tgt, DAY + timedelta(minutes=11), got).deliver()
    outbox(any_db, tgt, DAY + timedelta(minutes=21), got).deliver()
    assert [len(p.get("items") or []) for p in got.received] == [0, 3, 1]
    with any_db.read() as session:
        assert session.scalar(select(func.count()).where(Alert.status == "folded")) == 4


def test_hourly_cap_sends_one_overflow_summary_when_the_hour_frees(any_db: Database) -> None:
    tgt = target(max_per_hour=2)
    got = Recorder()
    seed(any_db, [f"重要 {i}" for i in range(5)] + ["紧急 fire"], tgt)
    outbox(any_db, tgt, DAY, got).deliver()
    assert kinds(got) == [("ticket", "L2"), ("ticket", "L2"), ("ticket", "L1")]  # L1 is never held
    outbox(any_db, tgt, DAY + timedelta(minutes=59), got, instance="restarted").deliver()
    assert len(got.received) == 3
    outbox(any_db, tgt, DAY + timedelta(minutes=60), got).deliver()
    overflow = got.received[-1]
    assert (overflow["kind"], overflow["suppressed"]) == ("overflow", 3)
    assert [i["ref"] for i in overflow["items"]] == ["Q000003", "Q000004", "Q000005"]
    assert outbox(any_db, tgt, DAY + timedelta(hours=3), got).deliver().sent == 0


def test_a_digest_due_while_the_cap_is_full_joins_the_overflow_summary(sqlite_db: Database) -> None:
    tgt = target(max_per_hour=1, digest={"every_minutes": 10})
    got = Recorder()
    seed(sqlite_db, ["重要 a", "一般 b", "重要 c"], tgt)
    outbox(sqlite_db, tgt, DAY, got).deliver()  # a sent; b digested; c over the cap
    outbox(sqlite_db, tgt, DAY + timedelta(minutes=10), got).deliver()
    assert kinds(got) == [("ticket", "L2")]
    outbox(sqlite_db, tgt, DAY + timedelta(minutes=60), got).deliver()
    assert kinds(got) == [("ticket", "L2"), ("overflow", "L2")]
    assert sorted(i["title"] for i in got.received[1]["items"]) == ["一般 b", "重要 c"]


def test_two_instances_delivering_at_once_keep_the_cap(any_db: Database) -> None:
    tgt = target(max_per_hour=3)
    seed(any_db, [f"重要 {i}" for i in range(12)], tgt)
    got = Recorder()
    boxes = [outbox(any_db, tgt, DAY, got, instance=name) for name in ("a", "b")]
    start = threading.Barrier(2)

    def run(box: Outbox) -> None:
        start.wait()
        box.deliver()

    threads = [threading.Thread(target=run, args=(box,)) for box in boxes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got.received) == 3
    assert len({p["id"] for p in got.received}) == 3
    with any_db.read() as session:
        assert session.scalar(select(func.count()).where(Alert.status == "folded")) == 9
        assert session.scalar(select(func.count()).where(Alert.kind == "overflow")) == 1


def test_silences_apply_to_ticket_alerts(sqlite_db: Database) -> None:
    tgt = target()
    with sqlite_db.transaction() as session:
        add_silence(
            session,
            "text",
            "演练",
            expires_at=DAY + timedelta(days=365),
            reason="drill",
            created_by="t",
            now=DAY,
        )
        add_silence(
            session,
            "rule",
            "kw.一般",
            expires_at=DAY + timedelta(days=365),
            reason="",
            created_by="t",
            now=DAY,
        )
    seed(sqlite_db, ["紧急 演练 起火", "紧急 真的起火", "一般 咨询"], tgt)
    with sqlite_db.read() as session:
        assert [a.ticket_id for a in session.scalars(select(Alert))] == [2]
        events = session.execute(
            select(TicketEvent.ticket_id, TicketEvent.new_value).where(TicketEvent.kind == "silenced")
        ).all()
    assert sorted(events) == [(1, "text:演练"), (3, "rule:kw.一般")]


def test_noise_settings_are_validated_with_file_line_and_path(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "alerts:\n"
        "  targets:\n"
        "    - name: wecom\n"
        "      kind: console\n"
        "      timezone: Mars/Olympus\n"
        "      quiet_hours: [22:00-8]\n"
        "      digest: {every_minutes: 0}\n"
        "      max_per_hour: 0\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    found = [str(i) for i in info.value.issues]
    for prefix in (
        f"{path}:5 alerts.targets[0].timezone: Value error, unknown timezone 'Mars/Olympus'",
        f"{path}:6 alerts.targets[0].quiet_hours: Value error, quiet window '22:00-8' must look like 22:00-08:00",
        f"{path}:7 alerts.targets[0].digest.every_minutes: Input should be greater than 0",
        f"{path}:8 alerts.targets[0].max_per_hour: Input should be greater than or equal to 1",
    ):
        assert any(f.startswith(prefix) for f in found), f"missing {prefix!r} in {found}"
    assert len(found) == 4
