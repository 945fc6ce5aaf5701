"""Senders against real local receivers: exact payloads, status mapping, 500-then-200 delivered once."""

from __future__ import annotations

import base64
import hashlib
import hmac
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler

from monitor.alerts.outbox import Outbox
from monitor.alerts.senders.base import Outcome, Sender
from monitor.alerts.senders.registry import sender_class
from monitor.config import AlertsConfig
from monitor.message import Batch
from monitor.pipeline import process_batch
from monitor.storage.db import Database
from monitor.targets import TargetConfig
from tests.alerts.test_outbox import ANALYZER, make_due, statuses
from tests.helpers.builders import message
from tests.helpers.receiver import Receiver, receiver

PAYLOAD: dict[str, Any] = {
    "id": 7,
    "kind": "incident",
    "step": "page:0:0",
    "incident": "INC-3",
    "title": "外卖吃出头发",
    "priority": "L1",
    "reason": "25 posts in 10 min",
    "messages": 25,
    "sources": ["weibo", "reddit"],
    "heat": 120.0,
    "reach": 5000,
    "recipients": [{"id": "zhang", "name": "张伟", "mention": "13800000001"}],
    "top": [{"excerpt": "太差了", "url": "https://weibo.com/1", "likes": 1, "reposts": 2, "replies": 3}],
    "ack_url": "http://127.0.0.1:8787/ack?code=INC-3",
    "resolve_url": "http://127.0.0.1:8787/resolve?code=INC-3",
    "ack_command": "yuqing ack INC-3",
    "idempotency_key": "incident:3:page:0:0@pr",
}
TEXT = (
    "【L1 紧急 urgent】舆情事件 Incident INC-3\n标题 Title: 外卖吃出头发\n原因 Reason: 25 posts in 10 min\n"
    "帖子 Posts: 25 · 来源 Sources: weibo, reddit · 热度 Heat: 120.0 · 覆盖 Reach: 5000\n值班 On call: 张伟\n\n"
    "1. 太差了 https://weibo.com/1\n\n确认 Acknowledge: http://127.0.0.1:8787/ack?code=INC-3  或 or yuqing ack INC-3\n"
    "告警 Alert #7 · incident:3:page:0:0@pr"
)
MARKDOWN_HEAD = "### 【L1 紧急 urgent】舆情事件 Incident INC-3\n**外卖吃出头发**\n"


def make(kind: str, **settings: Any) -> Sender:
    cls = sender_class(kind)
    return cls(kind, cls.Config.model_validate(settings))


def base(r: Receiver, kind: str) -> dict[str, Any]:
    return {
        "wecom": {"key": "K", "base_url": r.url},
        "dingtalk": {"access_token": "T", "base_url": r.url},
        "feishu": {"token": "H", "base_url": r.url},
        "slack": {"webhook_url": f"{r.url}/services/X"},
        "telegram": {"bot_token": "B", "chat_id": "-100", "base_url": r.url},
        "webhook": {"url": f"{r.url}/hook", "secret": "s3"},
    }[kind]


def test_wecom_posts_markdown_with_mentions_to_the_key_url() -> None:
    with receiver() as r:
        assert make("wecom", **base(r, "wecom")).send(PAYLOAD).outcome is Outcome.OK
        request = r.requests[0]
    assert request.path == "/cgi-bin/webhook/send?key=K"
    body = request.json
    assert body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert content.startswith(MARKDOWN_HEAD)
    assert "> 值班 On call: 张伟 <@13800000001>" in content
    assert "[点击确认 Ack](http://127.0.0.1:8787/ack?code=INC-3)" in content
    assert content.endswith("incident:3:page:0:0@pr</font>")
    assert request.headers["Idempotency-Key"] == "incident:3:page:0:0@pr"


def test_dingtalk_signs_and_mentions_mobiles() -> None:
    with receiver() as r:
        sender = make("dingtalk", **base(r, "dingtalk"), secret="SEC")
        sender.clock = lambda: 1_700_000_000.0  # type: ignore[attr-defined]
        assert sender.send(PAYLOAD).outcome is Outcome.OK
        request = r.requests[0]
    digest = hmac.new(b"SEC", b"1700000000000\nSEC", hashlib.sha256).digest()
    expected_sign = (
        base64.b64encode(digest).decode().replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    )
    assert request.path == f"/robot/send?access_token=T&timestamp=1700000000000&sign={expected_sign}"
    body = request.json
    assert body["at"] == {"atMobiles": ["13800000001"], "isAtAll": False}
    assert body["markdown"]["title"] == "【L1 紧急 urgent】舆情事件 Incident INC-3"
    assert body["markdown"]["text"].startswith(MARKDOWN_HEAD)


def test_feishu_text_with_signature() -> None:
    with receiver() as r:
        sender = make("feishu", **base(r, "feishu"), secret="FS")
        sender.clock = lambda: 1_700_000_000.0  # type: ignore[attr-defined]
        assert sender.send(PAYLOAD).outcome is Outcome.OK
        request = r.requests[0]
    assert request.path == "/open-apis/bot/v2/hook/H"
    sign = base64.b64encode(hmac.new(b"1700000000\nFS", b"", hashlib.sha256).digest()).decode()
    assert request.json == {
        "timestamp": "1700000000",
        "sign": sign,
        "msg_type": "text",
        "content": {"text": TEXT + '\n<at user_id="13800000001">张伟</at>'},
    }


def test_slack_and_telegram_exact_bodies() -> None:
    with receiver() as r:
        assert make("slack", **base(r, "slack")).send(PAYLOAD).outcome is Outcome.OK
        assert make("telegram", **base(r, "telegram")).send(PAYLOAD).outcome is Outcome.OK
        slack, telegram = r.requests
    assert slack.path == "/services/X"
    assert slack.json == {
        "text": "【L1 紧急 urgent】舆情事件 Incident INC-3",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "<@13800000001>\n" + TEXT}}],
    }
    assert telegram.path == "/botB/sendMessage"
    body = telegram.json
    assert (body["chat_id"], body["parse_mode"], body["disable_web_page_preview"]) == ("-100", "HTML", True)
    assert body["text"].startswith("<b>【L1 紧急 urgent】舆情事件 Incident INC-3</b>\n外卖吃出头发")


def test_generic_webhook_sends_the_payload_signed() -> None:
    with receiver() as r:
        assert make("webhook", **base(r, "webhook")).send(PAYLOAD).outcome is Outcome.OK
        request = r.requests[0]
    assert request.json == PAYLOAD
    expected = hmac.new(b"s3", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Yuqing-Signature"] == f"sha256={expected}"


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (500, "", Outcome.RETRY),
        (503, "", Outcome.RETRY),
        (429, "", Outcome.RETRY),
        (401, "", Outcome.AUTH),
        (403, "", Outcome.AUTH),
        (404, "", Outcome.AUTH),
        (400, "", Outcome.FATAL),
        (200, '{"errcode":45009,"errmsg":"api freq out of limit"}', Outcome.RETRY),
        (200, '{"errcode":93000,"errmsg":"invalid webhook url"}', Outcome.AUTH),
        (200, '{"errcode":40008,"errmsg":"invalid message type"}', Outcome.FATAL),
    ],
    ids=["500", "503", "429", "401", "403", "404", "400", "wecom-rate-limit", "wecom-bad-key", "wecom-bad-body"],
)
def test_status_mapping(status: int, body: str, outcome: Outcome) -> None:
    with receiver() as r:
        r.script = [(status, body)]
        assert make("wecom", **base(r, "wecom")).send(PAYLOAD).outcome is outcome


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [("120", 120.0), ("HTTP-DATE+90", 90.0), ("soon", None)],
    ids=["seconds", "http-date", "garbage"],
)
def test_a_429_honours_retry_after_in_seconds_and_http_dates(retry_after: str, expected: float | None) -> None:
    import email.utils
    import time

    if retry_after.startswith("HTTP-DATE"):
        retry_after = email.utils.formatdate(time.time() + 90, usegmt=True)
    with receiver() as r:
        r.script = [(429, "slow down")]
        r.headers = {"Retry-After": retry_after}
        result = make("slack", **base(r, "slack")).send(PAYLOAD)
    assert result.outcome is Outcome.RETRY
    if expected is None:
        assert result.retry_after is None
    else:
        assert result.retry_after is not None and abs(result.retry_after - expected) < 3


def test_timeout_and_refused_connection_are_retry() -> None:
    with receiver() as r:
        import threading

        r.hang = threading.Event()
        result = make("webhook", url=f"{r.url}/hook", read_timeout_seconds=0.3).send(PAYLOAD)
        r.hang.set()
    assert result.outcome is Outcome.RETRY and "timeout" in result.detail
    assert (
        make("webhook", url="http://127.0.0.1:9/x", connect_timeout_seconds=0.5).send(PAYLOAD).outcome
        is Outcome.RETRY
    )


def test_receiver_failing_with_500_then_200_gets_the_alert_once(sqlite_db: Database) -> None:
    with receiver() as r:
        r.script = [(500, "oops")]
        target = TargetConfig(name="pr", kind="wecom")
        process_batch(
            sqlite_db, "src", "files", Batch((message("a", "t", "紧急 投诉"),), {}), ANALYZER, [target]
        )
        outbox = Outbox(
            sqlite_db,
            {"pr": make("wecom", **base(r, "wecom"))},
            AlertsConfig(retry_base_seconds=60),
            instance="a",
        )
        assert outbox.deliver().retried == 1
        make_due(sqlite_db)
        assert outbox.deliver().sent == 1
        make_due(sqlite_db)
        assert outbox.deliver().sent == 0
        assert [req.json["markdown"]["content"][:20] for req in r.requests][1:] == [
            r.requests[0].json["markdown"]["content"][:20]
        ]
        assert len(r.requests) == 2
    assert statuses(sqlite_db) == [("sent", 2)]


def test_email_through_a_real_smtp_server() -> None:
    received: list[bytes] = []

    class Capture(MessageHandler):
        def handle_message(self, message: Any) -> None:
            received.append(message.as_bytes())

    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Capture(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        sender = make(
            "email",
            host="127.0.0.1",
            port=port,
            security="none",
            **{"from": "yuqing@example.com"},
            to=["pr@example.com"],
        )
        assert sender.send(PAYLOAD).outcome is Outcome.OK
    finally:
        controller.stop()
    mail = message_from_bytes(received[0])
    assert mail["X-Yuqing-Idempotency-Key"] == "incident:3:page:0:0@pr"
    assert mail["To"] == "pr@example.com"
    assert "INC-3" in str(mail["Subject"]) or "INC-3" in mail.get_payload(decode=True).decode()
    assert mail.get_payload(decode=True).decode("utf-8").strip() == TEXT


def test_email_refused_connection_is_retry() -> None:
    sender = make(
        "email",
        host="127.0.0.1",
        port=9,
        security="none",
        **{"from": "a@b.c"},
        to=["x@y.z"],
        timeout_seconds=1,
    )
    assert sender.send(PAYLOAD).outcome is Outcome.RETRY
