"""``yuqing feedback pending|posted``: follow-ups for channels yuqing cannot answer on."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.cli import main
from monitor.config import load_config
from monitor.feedback.job import run_followups
from monitor.message import Author, Batch, Message
from monitor.pipeline import process_batch
from monitor.runtime import link_signer
from monitor.storage.db import Database
from monitor.storage.models import Ticket
from monitor.tickets.lifecycle import set_status
from tests.helpers.builders import KeywordStub, write_config
from tests.helpers.context import context


def test_pending_follow_ups_are_listed_and_marked_posted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(
        tmp_path / "yuqing.yaml",
        {"state_dir": str(tmp_path / "state"), "alerts": {"ack": {"enabled": True, "public_url": "https://kefu.example", "secret": "s" * 32}}},
    )
    c = ["--config", str(path)]
    assert main(["db", "upgrade", *c]) == 0
    config = load_config(path)
    db = Database(config.database_url)
    try:
        now = datetime.now(UTC)
        post = Message(source="forum", external_id="p1", thread_key="p1", text="退款一直没到", created_at=now,
                       channel="forum", author=Author(id="u1", display_name="网友"))  # fmt: skip
        process_batch(context(db, KeywordStub({}), now=now), "forum", "rss", Batch((post,), {}))
        with db.transaction() as session:
            ticket = session.scalars(select(Ticket)).one()
            set_status(session, ticket, "resolved", actor="wangfang", now=now + timedelta(minutes=5))
        run_followups(db, config.feedback, config.alerts.targets, link_signer(config), now=now + timedelta(minutes=6))
    finally:
        db.dispose()
    capsys.readouterr()
    assert main(["feedback", "pending", "--json", *c]) == 0
    pending = json.loads(capsys.readouterr().out)
    assert [(p["ticket"], p["channel"]) for p in pending] == [("Q000001", "forum")]
    assert "https://kefu.example/satisfaction?code=" in pending[0]["text"] and "1 满意" in pending[0]["text"]
    assert main(["feedback", "posted", str(pending[0]["id"]), "--actor", "wangfang", *c]) == 0
    capsys.readouterr()
    assert main(["feedback", "pending", "--json", *c]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["feedback", "posted", str(pending[0]["id"]), "--actor", "wangfang", *c]) == 3
