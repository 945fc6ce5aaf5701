"""Every typed notice renders in every channel format with its own fields (no empty placeholders);
operator notices go through the route tree's operators route."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from monitor.alerts.render import render
from monitor.notices import (
    Acknowledged,
    Excerpt,
    IncidentPage,
    Notice,
    OperatorNotice,
    Person,
    Resolved,
    ReviewNeeded,
    StoryUpdate,
    Summary,
    SummaryItem,
    TicketPage,
)
from monitor.storage.db import Database
from monitor.storage.models import Alert
from monitor.stories.queue import enqueue_operator_alert
from monitor.targets import TargetConfig
from tests.helpers.context import settings

TOP = [Excerpt(message_id=1, excerpt="饭里吃出头发", url="https://weibo.com/1", likes=3)]
NOTICES: list[tuple[Notice, list[str]]] = [
    (
        TicketPage(
            priority="L1",
            title="充电宝起火",
            story="Q000042",
            step="page:0:0",
            ticket="Q000042",
            source="weibo",
            channel="rss",
            excerpt="宿舍充电宝起火",
            rules=["safety.fire"],
            keywords=["起火"],
            type="complaint",
            category="product",
            tags=["safety"],
            tickets=3,
            ack_command="yuqing ack Q000042",
        ),
        [
            "【L1 紧急 urgent】工单 Ticket Q000042",
            "3 个相似工单 similar tickets",
            "safety.fire",
            "起火",
            "complaint",
            "yuqing ack Q000042",
        ],
    ),
    (
        IncidentPage(
            priority="L2",
            title="外卖吃出头发",
            story="INC-3",
            step="page:1:0",
            incident="INC-3",
            reason="25 posts in 10 min",
            messages=25,
            sources=["weibo", "reddit"],
            heat=120.0,
            reach=5000,
            recipients=[Person(id="wang", name="王芳")],
            top=TOP,
            ack_command="yuqing ack INC-3",
        ),
        [
            "舆情事件 Incident INC-3",
            "升级通知 unacknowledged, escalated (page:1:0)",
            "25 posts in 10 min",
            "weibo, reddit",
            "王芳",
            "饭里吃出头发",
            "yuqing ack INC-3",
        ],
    ),
    (
        StoryUpdate(
            priority="L2",
            title="外卖吃出头发",
            story="INC-3",
            step="update:2",
            new_messages=14,
            messages=39,
            top=TOP,
            ack_command="yuqing ack INC-3",
        ),
        ["【更新 Update】INC-3 · 新增 14 条 new posts (共 total 39)", "饭里吃出头发"],
    ),
    (
        Acknowledged(
            priority="L2",
            title="外卖吃出头发",
            story="INC-3",
            step="acknowledged",
            acknowledged_by="zhang",
            note="联系商家中",
            resolve_command="yuqing resolve INC-3",
        ),
        ["【已确认 Acknowledged】INC-3", "zhang 已接手 is on it", "联系商家中", "yuqing resolve INC-3"],
    ),
    (
        Resolved(
            priority="L2",
            title="外卖吃出头发",
            story="INC-3",
            step="resolved",
            resolved_by="auto",
            note="quiet period",
        ),
        ["【已解决 Resolved】INC-3 外卖吃出头发 · auto", "quiet period"],
    ),
    (
        ReviewNeeded(
            priority="L1",
            title="待审核",
            step="review",
            message_id=7,
            source="chat",
            excerpt="再不退款我就弄死你",
            rules=["review.threat"],
            approve_command="yuqing review approve 7",
        ),
        [
            "待审核 Review needed】消息 Message #7",
            "再不退款我就弄死你",
            "review.threat",
            "yuqing review approve 7",
        ],
    ),
    (
        OperatorNotice(
            priority="L2",
            title="规则文件有错误 Rule files invalid",
            excerpt="old rules kept",
            errors=["rules/a.yaml:3 rules[0].priority: bad", "rules/b.yaml:9 keywords: empty"],
        ),
        ["【运维问题 Operator problem】规则文件有错误 Rule files invalid", "错误 Errors (2)", "rules/a.yaml:3", "rules/b.yaml:9"],
    ),
    (
        Summary(
            kind="digest",
            priority="L3",
            title="2 条告警汇总",
            count=2,
            suppressed=2,
            items=[SummaryItem(alert=1, kind="ticket", priority="L3", ref="Q000001", title="物流慢")],
        ),
        ["【汇总 Digest】1 条低优先级告警", "Q000001 物流慢"],
    ),
]


@pytest.mark.parametrize("channel", ["text", "markdown", "telegram"], ids=["text", "markdown", "telegram"])
@pytest.mark.parametrize(("notice", "expected"), NOTICES, ids=[n.kind for n, _ in NOTICES])
def test_every_notice_kind_renders_its_fields(notice: Notice, expected: list[str], channel: str) -> None:
    payload = {**notice.model_dump(mode="json"), "id": 9, "target": "t", "idempotency_key": "k@t"}
    out = render(channel, payload)
    for needle in expected:
        assert needle in out, f"{needle!r} missing from {channel}:\n{out}"
    assert "None" not in out and "#9 · k@t" in out


def test_operator_notices_follow_the_operators_route(sqlite_db: Database) -> None:
    targets = [TargetConfig(name=n, kind="console") for n in ("pager", "ops", "manager")]
    tree = settings(
        targets,
        route={
            "receivers": ["pager", "manager"],
            "routes": [{"match": {"kind": ["operator"]}, "receivers": ["ops"]}],
        },
    ).routes
    for _ in range(3):  # the same problem raised again: one notice
        enqueue_operator_alert(
            sqlite_db, "rules-invalid:abc", "规则无效", targets, routes=tree, errors=["e1", "e2"]
        )
    with sqlite_db.read() as session:
        rows = session.scalars(select(Alert)).all()
    assert [(r.target, r.kind, r.payload["errors"]) for r in rows] == [("ops", "operator", ["e1", "e2"])]


@pytest.mark.parametrize("channel", ["text", "markdown", "telegram"])
@pytest.mark.parametrize("level", ["warning", "breach"])
def test_sla_notices_render_chinese_first_in_every_format(channel: str, level: str) -> None:
    from monitor.notices import SlaAlert

    notice = SlaAlert(
        level=level, priority="L1", title="退款", ticket="Q000001", clock="first_response",
        clock_label="首次响应 first response", target_minutes=60, elapsed_minutes=45, percent=75.0,
        show_command="yuqing sla show Q000001", story="S3" if level == "breach" else None,
        step="page:1:0" if level == "breach" else "sla-warning", ack_command="yuqing ack S3" if level == "breach" else "",
    )  # fmt: skip
    text = render(channel, {**notice.model_dump(mode="json"), "id": 1, "idempotency_key": "k"})
    heading = "【SLA 超时 breached】" if level == "breach" else "【SLA 预警 warning】"
    assert heading in text.splitlines()[0] and "Q000001" in text and "yuqing sla show Q000001" in text
    assert ("yuqing ack S3" in text) == (level == "breach")
    assert ("升级通知 unacknowledged, escalated" in text) == (level == "breach")
