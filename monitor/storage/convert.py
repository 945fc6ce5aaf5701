"""Stored rows back to the shared records (review approval, backtests)."""

from __future__ import annotations

from monitor.message import Author, Engagement, Message
from monitor.storage.models import StoredMessage


def to_message(row: StoredMessage, source_name: str) -> Message:
    """The :class:`Message` a stored ``messages`` row was made from."""
    return Message(
        source=source_name,
        external_id=row.external_id,
        thread_key=row.thread_key,
        text=row.text,
        created_at=row.created_at,
        channel=row.channel,
        author=Author(row.author_id, row.author_name, row.author_followers),
        title=row.title,
        html=row.html,
        url=row.url,
        engagement=Engagement(row.likes, row.reposts, row.replies),
        raw_ref=row.raw_ref,
    )
