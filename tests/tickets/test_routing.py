"""Routing rules (``tickets.routing``): department and assignee by type, category, channel, keywords."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from monitor.message import Batch
from monitor.pipeline import process_batch
from monitor.storage.db import Database
from monitor.storage.models import Ticket
from monitor.tickets.routing import RoutingRule, route
from monitor.tickets.thread_settings import TicketsConfig
from tests.helpers.builders import KeywordStub, message
from tests.helpers.context import context

CONFIG = TicketsConfig.model_validate(
    {
        "routing": [
            {"name": "refunds", "keywords": ["退款", "Refund"], "department": "财务部", "assignee": "zhaolei"},
            {"name": "complaints", "type": ["complaint"], "category": ["service"], "department": "售后服务部"},
            {"name": "product", "category": ["product"], "channel": ["email"], "department": "产品部", "assignee": "wangfang"},
            {"name": "chat", "channel": ["chat"], "assignee": "duty"},
        ]
    }
)
CASES = [
    ("keyword", "feedback", None, None, "我要退款", ("财务部", "zhaolei")),
    ("keyword case-insensitive", "feedback", None, None, "REFUND please", ("财务部", "zhaolei")),
    ("type and category", "email", "complaint", "service", "态度差", ("售后服务部", None)),
    ("type alone is not enough", "feedback", "complaint", "process", "流程太慢", (None, None)),
    ("category and channel", "email", "inquiry", "product", "怎么用", ("产品部", "wangfang")),
    ("same category other channel", "feedback", "inquiry", "product", "怎么用", (None, None)),
    ("channel", "chat", None, None, "在吗", (None, "duty")),
    ("first match wins", "chat", None, None, "退款", ("财务部", "zhaolei")),
]


@pytest.mark.parametrize(
    ("channel", "type_", "category", "text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rules(channel: str, type_: str | None, category: str | None, text: str, expected: tuple[str | None, str | None]) -> None:
    ticket = Ticket(channel=channel, feedback_type=type_, category=category, title=text[:5], content=text)
    rule = route(CONFIG.routing, ticket)
    assert ((rule.department, rule.assignee) if rule else (None, None)) == expected


def test_a_rule_must_set_something() -> None:
    with pytest.raises(ValidationError, match="department and/or assignee"):
        RoutingRule(keywords=["x"])


def test_routing_is_applied_when_the_ticket_is_created(sqlite_db: Database) -> None:
    analyzer = KeywordStub({"退款": ("L2", True)})
    batch = Batch((message("a", "t1", "我要退款"), message("b", "t2", "你好")), {})
    process_batch(context(sqlite_db, analyzer, tickets=CONFIG), "src", "files", batch)
    with sqlite_db.read() as session:
        tickets = {t.thread_key: t for t in session.scalars(select(Ticket))}
        routed = [(e.kind, e.new_value, e.actor) for e in tickets["t1"].events if e.kind == "field"]
    assert (tickets["t1"].department, tickets["t1"].assignee) == ("财务部", "zhaolei")
    assert routed == [("field", "department=财务部", "routing"), ("field", "assignee=zhaolei", "routing")]
    assert (tickets["t2"].department, tickets["t2"].assignee) == (None, None)
