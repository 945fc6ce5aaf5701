"""People, not addresses: ack links are signed per recipient and record the person; ``--actor``
must be one of the on-call ``people``."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml
from sqlalchemy import select

from monitor.alerts.links import LinkSigner
from monitor.alerts.outbox import Outbox
from monitor.alerts.senders.registry import sender_class
from monitor.config import AlertsConfig
from monitor.message import Batch
from monitor.pipeline import process_batch
from monitor.storage.db import Database
from monitor.storage.models import Alert, Incident, StoryEvent
from monitor.stories.oncall_config import load_oncall
from monitor.stories.settings import StoriesSettings
from monitor.targets import TargetConfig
from monitor.tickets.incident_settings import IncidentsConfig, SpikeRule
from tests.alerts.test_ackserver import ANALYZER, call, local
from tests.helpers.builders import message, write_config, write_rules
from tests.helpers.context import context, settings
from tests.helpers.daemon import yuqing
from tests.helpers.http import ack_server

ONCALL = {
    "people": {
        "zhang": {"name": "张伟", "targets": ["mail-zhang", "chat"]},
        "li": {"name": "李娜", "targets": ["mail-li"]},
    },
    "teams": {
        "pr": {
            "rotations": [
                {"name": "day", "role": "primary", "type": "weekly", "start": "2026-01-05",
                 "handoff": "00:00", "shift_hours": 8, "members": ["zhang"]},
                {"name": "day2", "role": "primary", "type": "weekly", "start": "2026-01-05",
                 "handoff": "08:00", "shift_hours": 8, "members": ["zhang"]},
                {"name": "day3", "role": "primary", "type": "weekly", "start": "2026-01-05",
                 "handoff": "16:00", "shift_hours": 8, "members": ["zhang"]},
            ],
            "escalation": [{"notify": "primary"}],
        }
    },
    "default_team": "pr",
    "policy": {"min_shift_hours": 8, "max_shift_hours": 10},
}
TARGETS = tuple(TargetConfig(name=n, kind="console") for n in ("mail-zhang", "chat", "mail-li"))


def oncall_file(tmp_path: Path, people: dict[str, object] | None = None) -> Path:
    path = tmp_path / "oncall.yaml"
    data = dict(ONCALL, people=people or ONCALL["people"])
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def stories_for(path: Path) -> StoriesSettings:
    return settings(
        list(TARGETS),
        incidents=IncidentsConfig(spikes=[SpikeRule(min_count=3, priority="L1")]),
        oncall=load_oncall(path),
    )


def open_incident(db: Database, stories: StoriesSettings, signer: LinkSigner) -> dict[str, dict[str, object]]:
    """One incident paged; per target, the payload the outbox sends (links are added at delivery)."""
    batch = Batch(tuple(message(f"m{i}", f"t{i}", "这家店太差了我要投诉退款") for i in range(3)), {})
    process_batch(context(db, ANALYZER, stories=stories), "src", "files", batch)
    assert stories.oncall is not None
    reaches = {pid: list(person.targets) for pid, person in stories.oncall.people.items()}
    senders = {t.name: sender_class("console")(t.name, None) for t in TARGETS}
    outbox = Outbox(db, senders, AlertsConfig(), instance="t", links=signer, reaches=lambda: reaches)
    with db.read() as session:
        rows = session.scalars(select(Alert).where(Alert.kind == "incident")).all()
        return {a.target: outbox._outgoing(a, senders[a.target]) for a in rows}


def test_a_link_is_signed_for_its_recipient_and_records_the_person(sqlite_db: Database, tmp_path: Path) -> None:
    signer = LinkSigner(b"k" * 32, "https://yuqing.example.com")
    stories = stories_for(oncall_file(tmp_path))
    rows = open_incident(sqlite_db, stories, signer)
    assert sorted(rows) == ["chat", "mail-zhang"], "only the person on call is paged"
    for payload in rows.values():
        assert parse_qs(urlsplit(str(payload["ack_url"])).query)["p"] == ["zhang"]
        (recipient,) = payload["recipients"]  # type: ignore[misc]
        assert parse_qs(urlsplit(str(recipient["ack_url"])).query)["p"] == ["zhang"]
    srv = ack_server(sqlite_db, signer, lambda: stories)
    try:
        url = local(str(rows["mail-zhang"]["ack_url"]), srv.port)
        forged = url.replace("p=zhang", "p=li")
        assert call(forged, post=True)[0] == 403, "the person is part of what is signed"
        status, page = call(url)
        assert status == 200 and "张伟" in page
        status, page = call(url, post=True)
        assert status == 200 and "acknowledged" in page
    finally:
        srv.stop()
    with sqlite_db.read() as session:
        incident = session.scalars(select(Incident)).one()
        event = session.scalars(select(StoryEvent).where(StoryEvent.new_value == "acknowledged")).one()
    assert incident.acknowledged_by == "zhang" and event.actor == "zhang"


def test_a_link_of_someone_no_longer_on_call_is_refused(sqlite_db: Database, tmp_path: Path) -> None:
    signer = LinkSigner(b"k" * 32, "https://yuqing.example.com")
    rows = open_incident(sqlite_db, stories_for(oncall_file(tmp_path)), signer)
    only_li = {"li": ONCALL["people"]["li"], "zhao": {"name": "赵", "targets": ["mail-zhang"]}}  # type: ignore[index]
    later = dict(ONCALL, people=only_li)
    later["teams"] = {"pr": {**ONCALL["teams"]["pr"], "rotations": [  # type: ignore[index]
        {**r, "members": ["zhao"]} for r in ONCALL["teams"]["pr"]["rotations"]]}}  # type: ignore[index]
    path = tmp_path / "later.yaml"
    path.write_text(yaml.safe_dump(later, allow_unicode=True), encoding="utf-8")
    changed = stories_for(path)
    srv = ack_server(sqlite_db, signer, lambda: changed)
    try:
        status, page = call(local(str(rows["chat"]["ack_url"]), srv.port), post=True)
    finally:
        srv.stop()
    assert status == 403 and "unknown person" in page


def cli_config(tmp_path: Path) -> Path:
    return write_config(
        tmp_path / "c.yaml",
        {
            "state_dir": str(tmp_path),
            "rules": {"paths": [str(write_rules(tmp_path / "rules"))]},
            "alerts": {
                "targets": [{"name": n, "kind": "console"} for n in ("mail-zhang", "chat", "mail-li")],
                "oncall": str(oncall_file(tmp_path)),
            },
        },
    )


def test_actor_must_be_one_of_the_people(tmp_path: Path) -> None:
    path = cli_config(tmp_path)
    assert yuqing("--config", str(path), "db", "upgrade").returncode == 0
    unknown = yuqing("--config", str(path), "ack", "INC-1", "--actor", "mallory")
    by_id = yuqing("--config", str(path), "resolve", "INC-1", "--actor", "li")
    by_name = yuqing("--config", str(path), "ack", "INC-1", "--actor", "张伟")
    assert unknown.returncode == 2
    assert "unknown person 'mallory'" in unknown.stderr and "li (李娜)" in unknown.stderr
    assert (by_id.returncode, by_name.returncode) == (3, 3), "known people pass; INC-1 does not exist"
    assert "no incident or ticket INC-1" in by_name.stderr


def test_with_roles_a_viewers_link_is_refused_and_an_agents_works(sqlite_db: Database, tmp_path: Path) -> None:
    """The links check the same permission table as the CLI (``monitor.roles``)."""
    signer = LinkSigner(b"k" * 32, "https://yuqing.example.com")
    people = {
        "zhang": {"name": "张伟", "targets": ["mail-zhang", "chat"], "role": "viewer"},
        "li": {"name": "李娜", "targets": ["mail-li"], "role": "agent"},
    }
    stories = stories_for(oncall_file(tmp_path, people))
    rows = open_incident(sqlite_db, stories, signer)
    srv = ack_server(sqlite_db, signer, lambda: stories)
    try:
        status, page = call(local(str(rows["chat"]["ack_url"]), srv.port), post=True)  # zhang's link
    finally:
        srv.stop()
    assert status == 403 and "permission denied" in page and "zhang" in page
    with sqlite_db.read() as session:
        assert session.scalars(select(Incident)).one().acknowledged_by is None
    agent = dict(people, zhang={**people["zhang"], "role": "agent"})
    promoted = stories_for(oncall_file(tmp_path, agent))
    srv = ack_server(sqlite_db, signer, lambda: promoted)
    try:
        status, page = call(local(str(rows["chat"]["ack_url"]), srv.port), post=True)
    finally:
        srv.stop()
    assert status == 200 and "acknowledged" in page
