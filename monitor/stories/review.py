"""The review queue: messages flagged ``review`` (abuse, fraud, threats) wait for a person.

They are stored like every message but get no ticket, join no incident and page nobody until
``yuqing review approve`` releases them (``reject`` keeps them out for good). A held L1/L2 message
is not silent: one ``review`` notice goes to the route tree's ``review`` kind (the text is
masked for group chats by the outbox like every notice).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from monitor.notices import ReviewNeeded
from monitor.storage.bulk import written_together
from monitor.storage.convert import to_analysis, to_message
from monitor.storage.models import Alert, Source, StoredMessage
from monitor.stored import MessageRow, NewMessage
from monitor.stories.observe import subject_of
from monitor.stories.queue import wanted, write_rows
from monitor.stories.settings import StoriesSettings

EXCERPT_CHARS = 280
NOTIFY = ("L1", "L2")


def hold_for_review(
    session: Session, settings: StoriesSettings, stored: Sequence[NewMessage], *, notify: bool
) -> tuple[list[NewMessage], int]:
    """Mark messages that need review as pending (one notice each for L1/L2); return the others
    and the number of notice rows written."""
    held = [n for n in stored if n.analysis.review]
    if held:
        session.execute(
            update(StoredMessage)
            .where(StoredMessage.id.in_([n.row.id for n in held]))
            .values(review_status="pending")
            .execution_options(synchronize_session=False)
        )
    told = [i for i in held if notify and i.analysis.priority in NOTIFY]
    known = _known_targets(session, [f"review:{i.row.id}" for i in told])
    with written_together(session):
        notices = sum(review_notice(session, settings, i, known) for i in told)
    return [n for n in stored if not n.analysis.review], notices


def _known_targets(session: Session, keys: Sequence[str]) -> dict[str, set[str]]:
    """The targets each outbox key has already (one ``IN`` query per 500 keys)."""
    found: dict[str, set[str]] = {key: set() for key in keys}
    for start in range(0, len(keys), 500):
        query = select(Alert.dedupe_key, Alert.target).where(Alert.dedupe_key.in_(keys[start : start + 500]))
        for key, target in session.execute(query):
            found[key].add(target)
    return found


def review_notice(
    session: Session, settings: StoriesSettings, item: NewMessage, known: dict[str, set[str]] | None = None
) -> int:
    """The review notice of a held message (``known``: the targets each review key has already)."""
    priority = item.analysis.priority
    routing = settings.routes.match(subject_of("review", priority, [item]))
    notice = ReviewNeeded(
        priority=priority,
        title=f"待审核 Review needed: {(item.message.title or item.message.text)[:80]}",
        step="review",
        message_id=item.row.id,
        source=item.message.source,
        excerpt=item.message.text[:EXCERPT_CHARS],
        rules=sorted(f.rule_id for f in item.analysis.findings if f.review or f.alert),
        approve_command=f"yuqing review approve {item.row.id}",
    )
    names = wanted(settings.targets, routing.receivers, priority)
    key = f"review:{item.row.id}"
    return write_rows(session, key, names, notice, message_id=item.row.id, known=(known or {}).get(key))


def pending_reviews(session: Session, limit: int = 100) -> list[StoredMessage]:
    query = select(StoredMessage).where(StoredMessage.review_status == "pending").order_by(StoredMessage.id)
    return list(session.scalars(query.limit(limit)))


def release(session: Session, message_id: int, *, approve: bool) -> tuple[Source, NewMessage] | None:
    """Mark a held message approved (returned as the new message it now is, every analysed field
    kept) or rejected (None). LookupError when it is not waiting for review."""
    row = session.get(StoredMessage, message_id)
    if row is None or row.review_status != "pending":
        raise LookupError(f"message {message_id} is not waiting for review")
    if not approve:
        row.review_status = "rejected"
        return None
    row.review_status = "approved"
    source = session.get(Source, row.source_id)
    assert source is not None
    item = NewMessage(
        MessageRow(row.id, row.thread_key, row.channel, row.ticket_id),
        to_message(row, source.name),
        to_analysis(row.analysis),
    )
    return source, item
