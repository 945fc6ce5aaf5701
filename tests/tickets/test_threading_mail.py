"""E-mail threading like a helpdesk: replies find their ticket by any known id, a ticket code in
the subject, or the normalised subject from the same sender within a window (issue 15)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from sqlalchemy import select

from connectors.mail.parse import parse_email
from monitor.alerts.senders.email import EmailConfig, EmailSender
from monitor.message import Batch, Message
from monitor.pipeline import process_batch
from monitor.storage.db import Database
from monitor.storage.models import Alert, StoredMessage, Ticket
from monitor.targets import TargetConfig
from monitor.tickets.service import ticket_subject
from monitor.tickets.thread_settings import TicketsConfig
from tests.helpers.builders import KeywordStub
from tests.helpers.context import context

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
ANALYZER = KeywordStub({})


@dataclass(frozen=True)
class Mail:
    mid: str
    subject: str
    sender: str = "kehu@example.cn"
    days: float = 0.0
    in_reply_to: str = ""
    references: str = ""

    def message(self) -> Message:
        headers = [
            f"From: Customer <{self.sender}>",
            f"Subject: {self.subject}",
            f"Message-ID: <{self.mid}@mail.example.cn>",
            f"Date: {format_datetime(T0 + timedelta(days=self.days))}",
        ]
        if self.in_reply_to:
            headers.append(f"In-Reply-To: <{self.in_reply_to}@mail.example.cn>")
        if self.references:
            refs = " ".join(f"<{r}@mail.example.cn>" for r in self.references.split())
            headers.append(f"References: {refs}")
        raw = "\r\n".join([*headers, "Content-Type: text/plain; charset=utf-8", "", f"正文 {self.mid}"])
        return parse_email(raw.encode(), source="inbox")


def ingest(db: Database, batches: Sequence[Sequence[Mail]], window_days: float = 14.0) -> dict[str, int]:
    """Store the batches in order; the ticket id of every mail by its Message-ID local part."""
    settings = TicketsConfig(subject_thread_window_days=window_days)
    for mails in batches:
        batch = Batch(tuple(m.message() for m in mails), {})
        process_batch(context(db, ANALYZER, [], tickets=settings), "inbox", "maildir", batch)
    with db.read() as session:
        rows = session.execute(select(StoredMessage.ref_id, StoredMessage.ticket_id)).all()
    return {str(ref).strip("<>").split("@")[0]: int(ticket) for ref, ticket in rows}


ROOT = Mail("root", "订单 12345 没有发货")

SCENARIOS = [
    # (batches, groups of mails that must share one ticket; every group its own ticket)
    ([[ROOT], [Mail("r1", "回复：订单 12345 没有发货", days=1)]], [["root", "r1"]]),
    ([[ROOT, Mail("r1", "Re: 订单 12345 没有发货", days=1)]], [["root", "r1"]]),
    ([[Mail("r1", "RE：答复: 订单 12345 没有发货", days=1), ROOT]], [["root", "r1"]]),
    (
        [[ROOT], [Mail("a", "Re: x", in_reply_to="root", references="root", days=1)],
         [Mail("b", "Re: Re: x", in_reply_to="a", references="a", days=2)]],
        [["root", "a", "b"]],
    ),
    (
        [[Mail("middle", "问题")], [Mail("c", "Re: 另一个标题", in_reply_to="y", references="x middle y")]],
        [["middle", "c"]],
    ),
    ([[ROOT], [Mail("other", "Re: 订单 12345 没有发货", sender="other@example.cn", days=1)]],
     [["root"], ["other"]]),
    ([[ROOT], [Mail("late", "回复：订单 12345 没有发货", days=20)]], [["root"], ["late"]]),
    ([[ROOT], [Mail("again", "订单 12345 没有发货", days=1)]], [["root"], ["again"]]),
    (
        [[ROOT], [Mail("fw", "转发: 订单 12345 没有发货", days=2)],
         [Mail("re2", "Fwd: 回覆: 订单 12345 没有发货", days=3)]],
        [["root", "fw", "re2"]],
    ),
    ([[ROOT, Mail("new", "另一个问题")]], [["root"], ["new"]]),
]
SCENARIO_IDS = [
    "subject-only-reply-next-batch",
    "subject-only-reply-same-batch",
    "reply-before-root-in-batch",
    "reply-to-reply-without-root-in-references",
    "only-middle-reference-stored",
    "same-subject-other-customer-stays-apart",
    "outside-window-stays-apart",
    "same-subject-without-prefix-is-new",
    "forward-prefixes-join",
    "unrelated-mail-in-batch",
]


def assert_groups(tickets: dict[str, int], groups: list[list[str]]) -> None:
    assert set(tickets) == {mid for group in groups for mid in group}
    ids = [{tickets[mid] for mid in group} for group in groups]
    assert all(len(found) == 1 for found in ids), tickets
    assert len({next(iter(found)) for found in ids}) == len(groups), tickets


@pytest.mark.parametrize(("batches", "groups"), SCENARIOS, ids=SCENARIO_IDS)
def test_mail_threading_on_sqlite(
    sqlite_db: Database, batches: list[list[Mail]], groups: list[list[str]]
) -> None:
    assert_groups(ingest(sqlite_db, batches), groups)


@pytest.mark.parametrize(
    "index", [0, 3, 4, 5], ids=[SCENARIO_IDS[i] for i in (0, 3, 4, 5)]
)
def test_mail_threading_lookups_on_every_database(any_db: Database, index: int) -> None:
    batches, groups = SCENARIOS[index]
    assert_groups(ingest(any_db, batches), groups)


@pytest.mark.parametrize(
    ("days", "window", "joined"),
    [(20, 14, False), (20, 30, True), (1, 0, False), (13.9, 14, True)],
    ids=["20d-window-14", "20d-window-30", "window-0-turns-it-off", "just-inside"],
)
def test_subject_window_is_configurable(sqlite_db: Database, days: float, window: float, joined: bool) -> None:
    tickets = ingest(sqlite_db, [[ROOT], [Mail("late", "Re: 订单 12345 没有发货", days=days)]], window)
    assert (tickets["late"] == tickets["root"]) is joined


@pytest.mark.parametrize(
    "subject",
    ["{code} 其他标题", "Re: {code} 其他标题", "回复：Re: [yuqing] {code} 完全不同"],
    ids=["code", "re-code", "nested"],
)
def test_ticket_code_in_subject_joins_that_ticket(any_db: Database, subject: str) -> None:
    ingest(any_db, [[ROOT]])
    with any_db.read() as session:
        code = session.scalars(select(Ticket.code)).one()
    assert code is not None
    reply = Mail("coded", subject.format(code=f"[{code}]"), sender="staff@other.example.cn", days=30)
    tickets = ingest(any_db, [[reply]])
    assert tickets["coded"] == tickets["root"]


def test_outgoing_subject_carries_the_code_the_connector_reads_back() -> None:
    subject = ticket_subject("[yuqing] L1 订单 12345", "Q000042")
    assert subject == "[Q000042] [yuqing] L1 订单 12345"
    assert ticket_subject(subject, "Q000042") == subject  # never twice
    assert ticket_subject("告警", None) == "告警"
    assert Mail("x", "Re: " + subject).message().ticket_code == "Q000042"


def test_a_reply_to_yuqing_alert_mail_joins_the_ticket_by_its_code(sqlite_db: Database) -> None:
    """The alert mail yuqing sends about a ticket carries its code; a reply to it, from staff
    and with no usable headers, lands on that ticket."""
    targets = [TargetConfig(name="file", kind="jsonl", min_priority="L3")]
    root = Mail("root", "我要投诉 订单 12345").message()
    process_batch(context(sqlite_db, KeywordStub({"正文": ("L2", True)}), targets), "inbox", "maildir", Batch((root,), {}))
    with sqlite_db.read() as session:
        payload = session.scalars(select(Alert.payload)).one()
        code = session.scalars(select(Ticket.code)).one()
    sender = EmailSender("mail", EmailConfig.model_validate(
        {"host": "127.0.0.1", "from": "yuqing@example.cn", "to": ["pr@example.cn"]}))
    sent = sender.build(payload)
    assert f"[{code}]" in str(sent["Subject"])
    reply = parse_email(
        f"From: pr@example.cn\r\nSubject: Re: {sent['Subject']}\r\nMessage-ID: <staff@x>\r\n\r\n已处理".encode(),
        source="inbox",
    )
    assert reply.ticket_code == code
    process_batch(context(sqlite_db, ANALYZER, []), "inbox", "maildir", Batch((reply,), {}))
    tickets = ingest(sqlite_db, [])
    assert tickets["staff"] == tickets["root"]
