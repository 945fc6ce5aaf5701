"""One submission into the normal pipeline, exactly once.

The feedback becomes a :class:`~monitor.message.Message` of channel ``web``/``app`` (or
``phone``/``store``/``box``/``chat`` for staff registration) and goes through
:func:`monitor.pipeline.process_batch` like a polled message - analysis, ticket, routing, SLA,
stories. The submission and attachment rows are written inside that same transaction
(``within``), so nothing is half-written. The message's external id is derived from the client
and its ``Idempotency-Key``: a retried request finds its first submission (or, racing it, is
deduplicated by storage) and gets the same ticket and token back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor.findings import Analysis
from monitor.intake.customer import Declared, declare, held_code
from monitor.intake.files import CheckedFile, store_files
from monitor.intake.keys import Client
from monitor.message import Author, Batch, Message, Quarantined
from monitor.pipeline import PipelineContext, analyse_one, analysed, process_batch
from monitor.storage.db import Database
from monitor.storage.models import (
    IntakeAttachment,
    IntakeSubmission,
    QuarantineItem,
    Source,
    StoredMessage,
    Ticket,
)
from monitor.stored import NewMessage

TYPE_LABELS = {"complaint": "投诉", "suggestion": "建议", "inquiry": "咨询"}
SOURCE_KIND = "intake"
# The statements of every group, built once: building a statement and its cache key per call cost
# more CPU than running it (bench/intake_cpu.py); the SQL is the same.
_USED_KEYS = select(IntakeSubmission).where(
    IntakeSubmission.idempotency_key.in_(bindparam("keys", expanding=True)),
    IntakeSubmission.client.in_(bindparam("clients", expanding=True)),
)
_TICKETS = select(Ticket.id, Ticket.code, Ticket.status, Ticket.thread_key).where(
    Ticket.id.in_(bindparam("ids", expanding=True))
)
_SUBMISSIONS = insert(IntakeSubmission)


class Feedback(BaseModel):
    """The fields the policy's form asks for, plus what an app knows about itself."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    type: Literal["complaint", "suggestion", "inquiry"]
    content: str = Field(min_length=1, max_length=20_000)
    name: str | None = Field(None, max_length=64)
    contact: str | None = Field(None, max_length=128)
    anonymous: bool = False
    app_version: str | None = Field(None, max_length=64)
    device: str | None = Field(None, max_length=128)
    locale: str | None = Field(None, max_length=16, pattern=r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$")

    @field_validator("content", "name", "contact", "app_version", "device")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and any(ord(c) < 32 and c not in "\n\r\t" for c in value):
            raise ValueError("含控制字符 / contains control characters")
        return value or None if value is not None else None

    def public(self) -> Feedback:
        """Anonymous feedback keeps no name or contact, whatever was sent."""
        return self.model_copy(update={"name": None, "contact": None}) if self.anonymous else self

    def missing_contact(self) -> bool:
        return not self.anonymous and not self.contact


@dataclass(frozen=True, slots=True)
class Receipt:
    code: str
    """The ticket's code; held for review (no ticket yet), the submission's own (``F000045``)."""
    token: str
    status: str
    created: bool


class IdempotencyConflict(Exception):
    """The same Idempotency-Key with a different request body."""


def status_token(secret: bytes, external_id: str) -> str:
    """The customer's status token: HMAC of the submission's id (43 URL-safe characters).

    Derived, not stored, so a retried request gets the same token back and a leaked database
    holds no tokens."""
    mac = hmac.new(secret, f"status\n{external_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def request_hash(feedback: Feedback, files: Sequence[CheckedFile], extra: str = "") -> str:
    body = json.dumps(feedback.model_dump(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256("\n".join([body, *(f.sha256 for f in files), extra]).encode()).hexdigest()


def digest_of(feedback: Feedback, files: Sequence[CheckedFile], origin: Origin) -> str:
    """What a retry with the same Idempotency-Key must repeat: the fields (anonymous ones without
    name and contact), the files and, for offline feedback, the store and box."""
    return request_hash(feedback.public(), files, f"{origin.store}\n{origin.box}")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a submission comes from, beyond its client: store and box for offline feedback."""

    store: str | None = None
    box: str | None = None
    received_at: datetime | None = None
    external_id: str | None = None  # box slips: a stable id from the slip's number


def _find(session: Session, client: str, idempotency_key: str) -> IntakeSubmission | None:
    return session.scalar(
        select(IntakeSubmission).where(
            IntakeSubmission.client == client, IntakeSubmission.idempotency_key == idempotency_key
        )
    )


def _receipt(session: Session, secret: bytes, sub: IntakeSubmission, *, created: bool) -> Receipt:
    """The answer for a submission: its ticket through its message, or - held for review, no
    ticket yet - the submission's own code (``monitor.intake.customer.held_code``)."""
    found = session.execute(
        select(Ticket.code, Ticket.status)
        .join(StoredMessage, StoredMessage.ticket_id == Ticket.id)
        .where(StoredMessage.id == sub.message_id)
    ).first()
    if found is not None:
        return Receipt(found[0], status_token(secret, sub.external_id), found[1], created)
    review = session.scalar(select(StoredMessage.review_status).where(StoredMessage.id == sub.message_id))
    status = "rejected" if review == "rejected" else "received"
    return Receipt(held_code(sub.id), status_token(secret, sub.external_id), status, created)


def _replay(session: Session, secret: bytes, found: IntakeSubmission, digest: str, key: str) -> Receipt:
    """The first answer again, for a retry with the same body; a conflict for another body."""
    if found.request_hash != digest:
        raise IdempotencyConflict(key)
    return _receipt(session, secret, found, created=False)


def _replays(context: PipelineContext, secret: bytes, items: Sequence[Pending]) -> dict[int, Receipt | Exception]:
    """Answers for the items (by position) whose client already used their Idempotency-Key:
    one query for the whole group (items looked up when they were prepared are left out)."""
    keyed = [(i, item) for i, item in enumerate(items) if item.idempotency_key and not item.looked_up]
    if not keyed:
        return {}
    answers: dict[int, Receipt | Exception] = {}
    with context.db.read() as session:
        params = {
            "keys": sorted({item.idempotency_key or "" for _, item in keyed}),
            "clients": sorted({item.client.ref for _, item in keyed}),
        }
        found = {(sub.client, sub.idempotency_key): sub for sub in session.scalars(_USED_KEYS, params)}
        for i, item in keyed:
            sub = found.get((item.client.ref, item.idempotency_key))
            if sub is not None:
                try:
                    answers[i] = _replay(session, secret, sub, item.digest, sub.idempotency_key or "")
                except IdempotencyConflict as conflict:
                    answers[i] = conflict
    return answers


@dataclass(frozen=True, slots=True)
class Pending:
    """A checked submission ready to be written (its files already on disk)."""

    client: Client
    feedback: Feedback
    files: tuple[CheckedFile, ...]
    idempotency_key: str | None
    digest: str
    origin: Origin
    message: Message
    analysis: Analysis
    """Analysed in the request's thread (:func:`monitor.pipeline.analyse_one`), not the writer's."""
    seconds: float
    looked_up: bool = False
    """Its Idempotency-Key was looked up when it was prepared (:func:`replay_of`; the HTTP front
    process): the writer does not look again. A first request that commits in between makes the
    group's insert fail on the key's unique constraint, and the item is answered from it then."""


def prepare(
    context: PipelineContext,
    source: str,
    secret: bytes,
    state_dir: Path,
    client: Client,
    feedback: Feedback,
    files: Sequence[CheckedFile] = (),
    *,
    idempotency_key: str | None = None,
    origin: Origin = Origin(),
    lookup: bool = True,
) -> Pending | Receipt:
    """The submission to write, or the first answer when this request repeats an earlier one.

    ``lookup=False`` leaves the Idempotency-Key lookup to :func:`write_group`, which does it
    once for a whole group instead of once per request (the intake's writer)."""
    feedback = feedback.public()
    digest = digest_of(feedback, files, origin)
    if idempotency_key and lookup:
        replayed = replay_of(context.db, secret, client, idempotency_key, digest)
        if replayed is not None:
            return replayed
    return compose(
        source, state_dir, client, feedback, files, lambda message: analyse_one(context, message),
        idempotency_key=idempotency_key, origin=origin, now=origin.received_at or context.clock(), digest=digest,
    )


def replay_of(db: Database, secret: bytes, client: Client, idempotency_key: str, digest: str) -> Receipt | None:
    """The first answer when ``client`` used ``idempotency_key`` before (a retry with the same
    body); :class:`IdempotencyConflict` for another body; None for a new key."""
    with db.read() as session:
        found = _find(session, client.ref, idempotency_key)
        return None if found is None else _replay(session, secret, found, digest, idempotency_key)


def compose(
    source: str,
    state_dir: Path,
    client: Client,
    feedback: Feedback,
    files: Sequence[CheckedFile],
    analyse: Callable[[Message], tuple[Analysis, float]],
    *,
    idempotency_key: str | None,
    origin: Origin = Origin(),
    now: datetime,
    digest: str | None = None,
    looked_up: bool = False,
) -> Pending:
    """The submission to write, its files stored and its message analysed by ``analyse`` - the
    pipeline's (:func:`prepare`) or, in the HTTP front process, the analyzer of that process
    (``monitor.http.front_child``), which looks the Idempotency-Key up itself first
    (:func:`replay_of`; ``looked_up``: the writer does not look again). ``digest``: the request's
    hash when the caller computed it already."""
    feedback = feedback.public()
    digest = digest or digest_of(feedback, files, origin)
    if idempotency_key:
        key_id = hashlib.sha256(f"{client.ref}\n{idempotency_key}".encode()).hexdigest()[:40]
        external_id = f"{client.ref}:{key_id}"
    else:
        external_id = origin.external_id or f"{client.ref}:{uuid.uuid4().hex}"
    store_files(state_dir, files)  # content-addressed: harmless if the transaction fails
    message = Message(
        source=source,
        external_id=external_id,
        thread_key=external_id,
        text=feedback.content,
        created_at=now,
        channel=client.channel,
        author=Author(id=feedback.contact or "", display_name=feedback.name or ""),
        title=f"[{TYPE_LABELS[feedback.type]}] {feedback.content[:60]}",
        raw_ref=f"{client.ref}" + (f" box {origin.box}" if origin.box else ""),
    )
    analysis, seconds = analyse(message)
    return Pending(
        client, feedback, tuple(files), idempotency_key, digest, origin, message, analysis, seconds, looked_up
    )


def _placed(
    session: Session, source: str, items: Sequence[Pending], stored: Sequence[NewMessage]
) -> dict[str, tuple[int, int | None]]:
    """Message id and ticket id (None while held) of each item's message: from the rows this
    batch stored, or - stored before, a retry racing its first request - from the database."""
    placed = {n.message.external_id: (n.row.id, n.row.ticket_id) for n in stored}
    missing = [i.message.external_id for i in items if i.message.external_id not in placed]
    if missing:
        for external_id, message_id, ticket_id in session.execute(
            select(StoredMessage.external_id, StoredMessage.id, StoredMessage.ticket_id)
            .join(Source, Source.id == StoredMessage.source_id)
            .where(Source.name == source, StoredMessage.external_id.in_(missing))
        ):
            placed[external_id] = (message_id, ticket_id)
    return placed


def _record(
    session: Session, source: str, secret: bytes, items: Sequence[Pending], stored: Sequence[NewMessage]
) -> list[Receipt]:
    """The submission and attachment rows of the stored messages, inside the batch transaction,
    and the answers, read from the same transaction (the writer needs no second round trip).

    Core statements, one per kind of row for the whole group: the submissions, the new tickets'
    customer fields, and - only for submissions that need their id (attachments, or held for
    review: the answer carries the submission's code) - one ORM flush."""
    placed = _placed(session, source, items, stored)
    ticket_ids = {ticket_id for _, ticket_id in placed.values() if ticket_id}
    tickets = {row.id: row for row in session.execute(_TICKETS, {"ids": sorted(ticket_ids)})} if ticket_ids else {}
    declared: list[Declared] = []
    plain: list[dict[str, object]] = []
    named: list[tuple[int, IntakeSubmission]] = []
    answers: list[tuple[str, str] | None] = []  # (code, status); None: the submission's own code
    for index, item in enumerate(items):
        message, feedback = item.message, item.feedback
        message_id, ticket_id = placed.get(message.external_id, (None, None))
        ticket = tickets.get(ticket_id) if ticket_id else None
        if ticket is not None and ticket.thread_key == message.external_id:  # its own, new ticket
            declared.append(Declared(ticket.id, feedback.type, feedback.name, feedback.contact))
        row = {
            "client": item.client.ref,
            "idempotency_key": item.idempotency_key,
            "request_hash": item.digest,
            "external_id": message.external_id,
            "message_id": message_id,
            "ticket_code": ticket.code if ticket is not None else None,
            "channel": item.client.channel,
            "feedback_type": feedback.type,
            "anonymous": feedback.anonymous,
            "app_version": feedback.app_version,
            "device": feedback.device,
            "locale": feedback.locale,
            "store": item.origin.store,
            "box": item.origin.box,
            "created_at": message.created_at,
        }
        answers.append((ticket.code, ticket.status) if ticket is not None else None)
        if item.files or ticket is None:
            sub = IntakeSubmission(**row)
            session.add(sub)
            named.append((index, sub))
        else:
            plain.append(row)
    declare(session, declared)
    if plain:
        session.execute(_SUBMISSIONS, plain)
    if named:
        session.flush()
    ids = {index: sub.id for index, sub in named}
    for index, sub in named:
        item = items[index]
        for file in item.files:
            session.add(
                IntakeAttachment(
                    submission_id=sub.id,
                    message_id=sub.message_id,
                    name=file.name,
                    media_type=file.media_type,
                    size=file.size,
                    sha256=file.sha256,
                    created_at=item.message.created_at,
                )
            )
    receipts: list[Receipt] = []
    for index, (item, answer) in enumerate(zip(items, answers, strict=True)):
        token = status_token(secret, item.message.external_id)
        code, status = answer if answer is not None else (held_code(ids[index]), "received")
        receipts.append(Receipt(code, token, status, True))
    return receipts


def write_group(
    context: PipelineContext, source: str, secret: bytes, items: Sequence[Pending]
) -> list[Receipt | Exception]:
    """Write submissions in ONE pipeline transaction (group commit); answers in the same order.

    If the group fails (a concurrent retry with the same Idempotency-Key won a race, or one
    submission is bad), each is written alone so the others are not lost with it; a submission
    that fails alone gets its exception as its answer. Items whose Idempotency-Key was used
    before are answered from the first submission (see :func:`prepare`, ``lookup=False``)."""
    done = _replays(context, secret, items)
    if done:
        todo = [item for i, item in enumerate(items) if i not in done]
        fresh = iter(write_group(context, source, secret, todo) if todo else [])
        return [done[i] if i in done else next(fresh) for i in range(len(items))]
    receipts: list[Receipt] = []

    def within(session: Session, stored: Sequence[NewMessage]) -> None:
        receipts.extend(_record(session, source, secret, items, stored))

    batch = Batch(tuple(item.message for item in items), {})
    prepared = analysed(batch, [item.analysis for item in items], sum(item.seconds for item in items))
    try:
        process_batch(
            context, source, SOURCE_KIND, batch, advance_checkpoint=False, within=within, prepared=prepared, urgent=True
        )
    except Exception as exc:
        if len(items) > 1:
            return [write_group(context, source, secret, [item])[0] for item in items]
        if not isinstance(exc, IntegrityError):
            return [exc]
        try:
            return [_replayed(context, secret, items[0])]
        except IdempotencyConflict as conflict:
            return [conflict]
    answers: list[Receipt | Exception] = [*receipts]
    return answers


def _replayed(context: PipelineContext, secret: bytes, item: Pending) -> Receipt:
    """The answer of the submission that won a race on the same Idempotency-Key."""
    if not item.idempotency_key:
        raise IdempotencyConflict("")  # pragma: no cover - only keyed submissions can collide
    with context.db.read() as session:
        found = _find(session, item.client.ref, item.idempotency_key)
        if found is None:
            raise IdempotencyConflict(item.idempotency_key)
        if found.request_hash != item.digest:
            raise IdempotencyConflict(item.idempotency_key)
        return _receipt(session, secret, found, created=False)


def submit(
    context: PipelineContext,
    source: str,
    secret: bytes,
    state_dir: Path,
    client: Client,
    feedback: Feedback,
    files: Sequence[CheckedFile] = (),
    *,
    idempotency_key: str | None = None,
    origin: Origin = Origin(),
) -> Receipt:
    """Store one submission (or find the one this retry repeats); see the module docstring."""
    pending = prepare(
        context, source, secret, state_dir, client, feedback, files, idempotency_key=idempotency_key, origin=origin
    )
    if isinstance(pending, Receipt):
        return pending
    answer = write_group(context, source, secret, [pending])[0]
    if isinstance(answer, Exception):
        raise answer
    return answer


def quarantine(context: PipelineContext, source: str, reason: str, raw: bytes, ref: str) -> None:
    """Input that is more than a client mistake (a disguised file, a bad box slip): kept for the
    operator, once (the same input refused again for the same reason adds no second row)."""
    with context.db.read() as session:
        known = session.scalar(
            select(QuarantineItem.id)
            .join(Source, Source.id == QuarantineItem.source_id)
            .where(Source.name == source, QuarantineItem.raw_ref == ref, QuarantineItem.reason == reason,
                   QuarantineItem.status == "pending")
            .limit(1)
        )
    if known is not None:
        return
    item = Quarantined(source=source, reason=reason, raw=raw[:65536], raw_ref=ref, raw_size=len(raw))
    process_batch(context, source, SOURCE_KIND, Batch((), {}, (item,)), advance_checkpoint=False)
