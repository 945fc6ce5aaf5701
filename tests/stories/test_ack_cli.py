"""``yuqing ack|resolve`` on a ticket inside an incident acts on the incident's story, its incident
and all its tickets; ``--note`` is stored and ``yuqing story show`` shows it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from monitor.message import Batch, Message
from monitor.pipeline import process_batch
from monitor.storage.db import Database
from monitor.storage.models import Incident, Ticket, TicketEvent
from monitor.targets import TargetConfig
from monitor.tickets.incident_settings import IncidentsConfig, SpikeRule
from tests.helpers.builders import KeywordStub, write_config, write_rules
from tests.helpers.context import context, settings
from tests.helpers.daemon import yuqing

T0 = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
POST = "我要投诉，这家店的外卖里吃出了头发，客服不理人"


def test_ack_and_resolve_a_ticket_inside_an_incident_with_notes(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    config = write_config(
        tmp_path / "yuqing.yaml",
        {
            "state_dir": str(state),
            "rules": {"paths": [str(write_rules(tmp_path / "rules"))]},
            "alerts": {"targets": [{"name": "pager", "kind": "console"}]},
            "incidents": {"spikes": [{"min_count": 3, "priority": "L2"}]},
        },
    )
    db = Database(f"sqlite:///{state / 'yuqing.db'}")
    db.upgrade()
    stories = settings(
        [TargetConfig(name="pager", kind="console")],
        incidents=IncidentsConfig(spikes=[SpikeRule(min_count=3, priority="L2")]),
    )
    posts = tuple(
        Message(
            source="weibo",
            external_id=f"p{i}",
            thread_key=f"p{i}",
            text=f"转发//@u{i}: {POST}",
            created_at=T0 + timedelta(seconds=i),
            channel="rss",
        )
        for i in range(4)
    )
    process_batch(
        context(db, KeywordStub({"投诉": ("L2", True)}), stories=stories, now=T0),
        "weibo",
        "rss",
        Batch(posts, {}),
    )

    acked = yuqing(
        "--config",
        str(config),
        "ack",
        "Q000002",
        "--note",
        "已联系商家 contacted the shop",
        "--actor",
        "zhang",
    )
    assert acked.returncode == 0, acked.stderr
    assert acked.stdout.splitlines()[-1] == "INC-1: acknowledged · 4 个工单 tickets -> processing"
    again = yuqing("--config", str(config), "ack", "INC-1")
    assert again.stdout.splitlines()[-1] == "INC-1: acknowledged (unchanged)"
    resolved = yuqing("--config", str(config), "resolve", "Q000003", "--note", "商家已退款 refunded")
    assert resolved.stdout.splitlines()[-1] == "INC-1: resolved · 4 个工单 tickets -> resolved"

    shown = yuqing("--config", str(config), "story", "show", "Q000001")
    assert shown.returncode == 0, shown.stderr
    assert any(line.startswith("INC-1 [incident] resolved L2") for line in shown.stdout.splitlines())
    assert "备注 note: 已联系商家 contacted the shop" in shown.stdout
    assert "备注 note: 商家已退款 refunded" in shown.stdout
    with db.read() as session:
        assert session.scalar(select(Incident.state)) == "resolved"
        assert set(session.scalars(select(Ticket.status))) == {"resolved"}
        notes = set(session.scalars(select(TicketEvent.note).where(TicketEvent.note.is_not(None))))
    assert notes == {"已联系商家 contacted the shop", "商家已退款 refunded"}
    db.dispose()
