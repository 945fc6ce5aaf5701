"""``yuqing import`` builds its pipeline context from the configuration like the daemon: with
``incidents: {enabled: false}`` no incident opens even with ``--alert``; without ``--alert``
nothing is told at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor.config import load_config
from monitor.importer import pipeline_sink
from monitor.message import Batch, Message
from monitor.storage.db import Database
from monitor.storage.models import Alert, Incident, Story
from tests.helpers.builders import write_config, write_rules

T0 = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("alert", "stories", "alerts"), [(True, 1, 1), (False, 0, 0)], ids=["with-alert", "history-only"]
)
def test_import_honours_incident_settings_and_alert_flag(
    tmp_path: Path, alert: bool, stories: int, alerts: int
) -> None:
    path = write_config(
        tmp_path / "yuqing.yaml",
        {
            "state_dir": str(tmp_path / "state"),
            "rules": {"paths": [str(write_rules(tmp_path / "rules"))]},
            "alerts": {"targets": [{"name": "pager", "kind": "console"}]},
            "incidents": {"enabled": False, "spikes": [{"min_count": 3, "priority": "L1"}]},
        },
    )
    config = load_config(path)
    Database(config.database_url).upgrade()  # only `db upgrade` and `run` migrate
    store = pipeline_sink(config, "chat", alert=alert)
    posts = tuple(
        Message(
            source="chat",
            external_id=f"c{i}",
            thread_key=f"c{i}",
            text=f"紧急：充电宝起火了 //@u{i}",
            created_at=T0 + timedelta(seconds=i),
            channel="chat",
        )
        for i in range(30)
    )
    assert store(Batch(posts, {})).new == 30
    db = Database(config.database_url)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 0
        assert session.scalar(select(func.count()).select_from(Story)) == stories
        assert session.scalar(select(func.count()).select_from(Alert)) == alerts
    db.dispose()
