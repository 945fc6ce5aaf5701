"""Submissions through the pipeline in-process, on every database: exactly once, group commit,
and feedback held for review that gets its ticket (and its status page) on approval."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from monitor.findings import Analysis, Finding
from monitor.intake.files import CheckedFile
from monitor.intake.keys import Client
from monitor.intake.status import lookup
from monitor.intake.submit import Feedback, Pending, Receipt, prepare, submit, write_group
from monitor.message import Message
from monitor.pipeline import decide_review
from monitor.storage.db import Database
from monitor.storage.models import IntakeAttachment, IntakeSubmission, StoredMessage, Ticket
from tests.helpers.context import context

SECRET = b"s" * 32
CLIENT = Client("key:1", "website", "web")


def review_threats(message: Message) -> Analysis:
    return Analysis((Finding("t.threat", "L1", True, review=True),) if "炸" in message.text else ())


def feedback(text: str, **extra: object) -> Feedback:
    return Feedback.model_validate({"type": "complaint", "content": text, "contact": "13800000000", **extra})


def test_a_group_is_one_transaction_with_every_row_and_retries_get_the_first_answer(any_db: Database, tmp_path: Path) -> None:
    ctx = context(any_db, review_threats)
    png = CheckedFile("a.png", "image/png", b"\x89PNG\r\n\x1a\n", "ab" * 32)
    items = [
        prepare(ctx, "intake", SECRET, tmp_path, CLIENT, feedback(f"第 {i} 条反馈"), [png] if i == 0 else [],
                idempotency_key=f"k{i}")
        for i in range(5)
    ]
    assert all(isinstance(item, Pending) for item in items)
    receipts = write_group(ctx, "intake", SECRET, [i for i in items if isinstance(i, Pending)])
    assert all(isinstance(r, Receipt) and r.created and r.code for r in receipts)
    with any_db.read() as session:
        assert session.scalar(select(func.count()).select_from(IntakeSubmission)) == 5
        assert session.scalar(select(func.count()).select_from(Ticket)) == 5
        assert session.scalar(select(func.count()).select_from(IntakeAttachment)) == 1
    again = submit(ctx, "intake", SECRET, tmp_path, CLIENT, feedback("第 3 条反馈"), idempotency_key="k3")
    assert (again.code, again.token, again.created) == (receipts[3].code, receipts[3].token, False)  # type: ignore[union-attr]


def test_feedback_held_for_review_has_its_own_code_until_approved(any_db: Database, tmp_path: Path) -> None:
    ctx = context(any_db, review_threats)
    receipt = submit(ctx, "intake", SECRET, tmp_path, CLIENT, feedback("再不退款我就去炸了你们的店"), idempotency_key="h")
    assert receipt.code.startswith("F") and receipt.status == "received"  # waiting in the review queue
    held = lookup(any_db, SECRET, receipt.code, token=receipt.token)
    assert held is not None and (held.code, held.label_zh) == (receipt.code, "已收到")
    assert lookup(any_db, SECRET, receipt.code, contact="138 0000 0000") is not None
    assert lookup(any_db, SECRET, receipt.code, token="x" * 43) is None
    with any_db.read() as session:
        message_id = session.scalar(select(StoredMessage.id))
        assert session.scalar(select(func.count()).select_from(Ticket)) == 0
    assert message_id is not None
    decide_review(ctx, message_id, approve=True)
    with any_db.read() as session:
        ticket = session.scalars(select(Ticket)).one()
    assert (ticket.feedback_type, ticket.customer_contact, ticket.customer_handle) == ("complaint", "13800000000", None)
    for code in (receipt.code, ticket.code or ""):  # the submission's code now leads to its ticket
        found = lookup(any_db, SECRET, code, token=receipt.token)
        assert found is not None and (found.code, found.label_zh) == (ticket.code, "已收到")
    assert lookup(any_db, SECRET, ticket.code or "", token="x" * 43) is None
    again = submit(ctx, "intake", SECRET, tmp_path, CLIENT, feedback("再不退款我就去炸了你们的店"), idempotency_key="h")
    assert (again.code, again.created) == (ticket.code, False)


def test_feedback_rejected_in_review_reads_not_accepted(sqlite_db: Database, tmp_path: Path) -> None:
    ctx = context(sqlite_db, review_threats)
    receipt = submit(ctx, "intake", SECRET, tmp_path, CLIENT, feedback("我要炸了你们"), idempotency_key="r")
    with sqlite_db.read() as session:
        message_id = session.scalar(select(StoredMessage.id))
    assert message_id is not None
    decide_review(ctx, message_id, approve=False)
    found = lookup(sqlite_db, SECRET, receipt.code, token=receipt.token)
    assert found is not None and (found.status, found.label_zh) == ("rejected", "未受理")
    again = submit(ctx, "intake", SECRET, tmp_path, CLIENT, feedback("我要炸了你们"), idempotency_key="r")
    assert (again.code, again.status, again.created) == (receipt.code, "rejected", False)


def test_items_looked_up_when_prepared_are_still_written_once_per_key(any_db: Database, tmp_path: Path) -> None:
    """The HTTP front process looks a key up itself and the writer does not look again
    (``looked_up``): a first request that committed in between, or a twin in the same group, is
    caught by the key's unique constraint and answered with the first submission's receipt."""
    from dataclasses import replace

    ctx = context(any_db, review_threats)

    def made(text: str, key: str) -> Pending:
        item = prepare(ctx, "intake", SECRET, tmp_path, CLIENT, feedback(text), idempotency_key=key, lookup=False)
        assert isinstance(item, Pending)
        return replace(item, looked_up=True)

    first = write_group(ctx, "intake", SECRET, [made("第一条", "a")])[0]
    assert isinstance(first, Receipt) and first.created
    later = write_group(ctx, "intake", SECRET, [made("第一条", "a"), made("另一条", "b")])
    assert isinstance(later[0], Receipt) and (later[0].code, later[0].created) == (first.code, False)
    assert isinstance(later[1], Receipt) and later[1].created
    twins = write_group(ctx, "intake", SECRET, [made("同一条", "c"), made("同一条", "c")])
    assert all(isinstance(r, Receipt) for r in twins)
    assert twins[0].code == twins[1].code and sorted(r.created for r in twins) == [False, True]  # type: ignore[union-attr]
    with any_db.read() as session:
        assert session.scalar(select(func.count()).select_from(IntakeSubmission)) == 3
        assert session.scalar(select(func.count()).select_from(Ticket)) == 3
