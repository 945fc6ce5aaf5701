"""Survey campaigns end to end: ``yuqing survey send`` mails questionnaires through a real SMTP
server at the configured rate; replies run through the real mail parser and pipeline and are
matched to the campaign by the subject token or the Message-ID; 退订 and the page's button opt
out for good; a dissatisfied answer becomes a ticket on the 10-working-day survey profile;
``survey results`` and the monthly report's survey section show them."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.mail.parse import parse_email
from monitor.cli import main
from monitor.config import load_config
from monitor.http.satisfaction import satisfaction_router
from monitor.message import Batch, Message
from monitor.pipeline import process_batch
from monitor.reports.period import Month
from monitor.reports.sections import survey_section
from monitor.runtime import link_signer
from monitor.storage.db import Database
from monitor.storage.models import OptOut, SurveyAnswer, Ticket
from tests.feedback.conftest import Inbox
from tests.helpers.builders import KeywordStub, write_config
from tests.helpers.context import context
from tests.helpers.http_sla import fetch, link_fields, serve

ANALYZER = KeywordStub({"态度": ("L3", False)})
CUSTOMERS = ("a@kehu.cn", "b@kehu.cn", "c@kehu.cn")


def _site(tmp_path: Path, inbox: Inbox) -> Path:
    return write_config(
        tmp_path / "yuqing.yaml",
        {
            "state_dir": str(tmp_path / "state"),
            "alerts": {
                "targets": [
                    {"name": "mail", "kind": "email", "enabled": False,
                     "email": {"host": "127.0.0.1", "port": inbox.port, "security": "none",
                               "from": "kefu@shop.example", "to": ["ops@shop.example"]}},
                ],
                "ack": {"enabled": True, "public_url": "http://127.0.0.1:1", "secret": "s" * 32},
            },
            "feedback": {"surveys": {"mail_target": "mail", "per_minute": 600}},
        },
    )  # fmt: skip


def _mail(sender: str, mid: str, subject: str, body: str, *, reply_to: str = "") -> Message:
    headers = [f"From: <{sender}>", "To: kefu@shop.example", f"Subject: {subject}", f"Message-ID: {mid}",
               f"Date: {format_datetime(datetime.now(UTC))}"]  # fmt: skip
    if reply_to:
        headers.append(f"In-Reply-To: {reply_to}")
    raw = "\r\n".join([*headers, "Content-Type: text/plain; charset=utf-8", "", body])
    return parse_email(raw.encode(), source="inbox")


def _ingest(db: Database, *messages: Message) -> None:
    process_batch(context(db, ANALYZER), "inbox", "maildir", Batch(tuple(messages), {}))


def _to(inbox: Inbox, address: str) -> EmailMessage:
    return next(m for m in inbox.mails if m["To"] == address)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    code = main(list(argv))
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def test_a_campaign_round_trip(tmp_path: Path, smtp: Inbox, capsys: pytest.CaptureFixture[str]) -> None:
    config = _site(tmp_path, smtp)
    c = ["--config", str(config)]
    assert main(["db", "upgrade", *c]) == 0
    db = Database(load_config(config).database_url)
    try:
        for n, address in enumerate(CUSTOMERS):
            _ingest(db, _mail(address, f"<m{n}@kehu.cn>", f"订单问题 {n}", "我的订单什么时候发货"))
        since = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
        started = time.monotonic()
        out = _run(capsys, "survey", "send", "--campaign", "2026Q4", "--since", since, *c)
        assert "queued 3" in out and "sent 3" in out
        assert time.monotonic() - started >= 0.2, "paced at per_minute: 600 (0.1 s apart)"
        assert sorted(m["To"] for m in smtp.mails) == list(CUSTOMERS)
        assert "queued 0" in _run(capsys, "survey", "send", "--campaign", "2026Q4", "--since", since, *c)
        assert len(smtp.mails) == 3, "nobody is mailed twice in one campaign"

        first = _to(smtp, "a@kehu.cn")
        assert "[SV:" in first["Subject"] and "1 满意" in first.get_content() and "退订" in first.get_content()
        second, third = _to(smtp, "b@kehu.cn"), _to(smtp, "c@kehu.cn")
        _ingest(
            db,
            _mail("a@kehu.cn", "<r1@kehu.cn>", f"Re: {first['Subject']}", "1 服务很好\n\n> 第一行写 1 满意"),
            # no token in the subject: matched by the questionnaire's Message-ID
            _mail("b@kehu.cn", "<r2@kehu.cn>", "回复：客户满意度调查", "3\n客服态度差，等了一周才回复", reply_to=second["Message-ID"]),
            _mail("c@kehu.cn", "<r3@kehu.cn>", f"Re: {third['Subject']}", "退订"),
        )
        with db.read() as session:
            answers = {a.address: a for a in session.scalars(select(SurveyAnswer))}
            assert {k: v.score for k, v in answers.items()} == {"a@kehu.cn": "satisfied", "b@kehu.cn": "dissatisfied"}
            assert answers["a@kehu.cn"].text == "服务很好" and answers["a@kehu.cn"].ticket_id is None
            ticket = session.get(Ticket, answers["b@kehu.cn"].ticket_id)
            assert ticket is not None and (ticket.channel, ticket.feedback_type) == ("survey", "complaint")
            assert "survey:2026Q4" in (ticket.tags or [])
            assert session.scalars(select(OptOut.address)).all() == ["c@kehu.cn"]
            assert len(session.scalars(select(Ticket)).all()) == 4, "only the dissatisfied answer became a ticket"
            code = ticket.code
        clocks = json.loads(_run(capsys, "sla", "show", str(code), "--json", *c))
        resolution = next(k for k in clocks if k["clock"] == "resolution")
        assert (resolution["profile"], resolution["target_minutes"]) == ("survey", 10 * 8 * 60)

        roster = tmp_path / "list.csv"
        roster.write_text("姓名,邮箱\n甲,a@kehu.cn\n丙,c@kehu.cn\n丁,D@Kehu.cn\n坏,not-an-address\n", encoding="utf-8")
        out = _run(capsys, "survey", "send", "--campaign", "2027Q1", "--csv", str(roster), *c)
        assert "queued 2" in out and "opted out 1" in out and "invalid 1" in out
        assert "c@kehu.cn" not in [m["To"] for m in smtp.mails[3:]]

        signer = link_signer(load_config(config))
        late = _to(smtp, "d@kehu.cn")
        assert late.get_content().startswith("丁，您好")
        url = next(w for w in late.get_content().split() if w.startswith("http://127.0.0.1:1/satisfaction"))
        a_url = next(w for w in smtp.mails[3:] if w["To"] == "a@kehu.cn").get_content().split()
        a_fields = link_fields(next(w for w in a_url if w.startswith("http://")))
        with serve(satisfaction_router(db, signer)) as base:
            status, page = fetch(f"{base}/satisfaction?{url.split('?', 1)[1]}")
            assert status == 200 and "退订 Unsubscribe" in page and "2027Q1" in page
            assert fetch(f"{base}/satisfaction", {**link_fields(url), "score": "2", "text": "还行"})[0] == 200
            status, page = fetch(f"{base}/satisfaction", {**a_fields, "optout": "1"})
            assert status == 200 and "已为您退订" in page
        with db.read() as session:
            assert sorted(session.scalars(select(OptOut.address))) == ["a@kehu.cn", "c@kehu.cn"]
            link_answer = session.scalars(select(SurveyAnswer).where(SurveyAnswer.campaign == "2027Q1")).one()
            assert (link_answer.address, link_answer.score, link_answer.channel, link_answer.text) == ("d@kehu.cn", "neutral", "link", "还行")
        out = _run(capsys, "survey", "send", "--campaign", "2027Q2", "--csv", str(roster), "--dry-run", *c)
        assert "queued 1" in out and "opted out 2" in out, "opted out by reply and by the page: never again"
        assert "dry run: nothing queued or sent" in out
        assert json.loads(_run(capsys, "survey", "results", "--campaign", "2027Q2", "--json", *c))["questionnaires"] == 0

        results = json.loads(_run(capsys, "survey", "results", "--campaign", "2026Q4", "--json", *c))
        assert (results["sent"], results["answers"], results["satisfied"], results["dissatisfied"]) == (3, 2, 1, 1)
        assert (results["opted_out"], results["satisfaction_rate"]) == (1, 0.5)
        assert [i["ticket"] for i in results["items"]] == [None, code]
        text = _run(capsys, "survey", "results", "--campaign", "2026Q4", *c)
        assert "满意率 rate 50.0 %" in text and str(code) in text

        now = datetime.now(UTC)
        with db.engine.connect() as conn:
            section = survey_section(conn, Month(now.year, now.month))
        by_campaign = {r["campaign"]: r for r in section.rows}
        assert (by_campaign["2026Q4"]["answers"], by_campaign["2026Q4"]["tickets"]) == (2, 1)
        assert by_campaign["2027Q1"]["neutral"] == 1
    finally:
        db.dispose()
