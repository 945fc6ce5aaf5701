"""Turn a flat record (a JSON object or a CSV row) into a Message, with a configurable field map."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from connectors.reposts import quoted_refs, repost_key
from monitor.errors import BadInputError
from monitor.message import Author, Engagement, Message


class FieldMap(BaseModel):
    """Which record field holds what; fields that are absent from a record are simply unset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = "id"
    text: str = "text"
    thread: str = "thread"
    title: str = "title"
    author: str = "author"
    author_name: str = "author_name"
    followers: str = "followers"
    created_at: str = "created_at"
    url: str = "url"
    likes: str = "likes"
    reposts: str = "reposts"
    replies: str = "replies"
    reply_to: str = "reply_to"  # id (or list of ids) of the post this one replies to, reposts or quotes


def parse_time(value: Any, zone: ZoneInfo) -> datetime | None:
    """ISO 8601 text or a Unix timestamp; naive times are in ``zone``."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value) / 1000 if value > 1e11 else float(value)
        return datetime.fromtimestamp(seconds, UTC)
    text = str(value).strip()
    if text.isdigit():
        return parse_time(int(text), zone)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("/", "-"))
    except ValueError:
        raise BadInputError(f"unrecognised time {text[:40]!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def _int(record: dict[str, Any], key: str) -> int:
    value = record.get(key)
    try:
        return int(value) if value not in (None, "") else 0
    except (TypeError, ValueError):
        return 0


def _refs(reply_to: Any, text: str, own: str) -> tuple[str, ...]:
    """What a record answers: its ``reply_to`` id(s), then the posts its text links to."""
    named = reply_to if isinstance(reply_to, list) else [reply_to]
    ids = [str(r) for r in named if isinstance(r, int | str) and not isinstance(r, bool) and str(r)]
    return tuple(dict.fromkeys([*ids, *quoted_refs(text, own=own)]))


def record_to_message(
    record: dict[str, Any],
    fields: FieldMap,
    *,
    source: str,
    channel: str,
    zone: ZoneInfo,
    raw_ref: str,
    default_time: datetime,
) -> Message:
    """Build a Message; raises BadInputError when the record has no text or a bad time."""
    text = record.get(fields.text)
    if text is None or (isinstance(text, str) and not text.strip()):
        raise BadInputError(f"record has no {fields.text!r} field")
    text = text if isinstance(text, str) else str(text)
    author = record.get(fields.author)
    author_id = "" if author is None else str(author)
    created_raw = record.get(fields.created_at)
    created_at = parse_time(created_raw, zone) or default_time
    record_id = record.get(fields.id)
    if record_id not in (None, ""):
        external_id = str(record_id)
    else:
        basis = "\x1f".join([str(record.get(fields.thread) or ""), str(created_raw or ""), author_id, text])
        external_id = "h:" + hashlib.sha256(basis.encode("utf-8")).hexdigest()[:32]
    thread = record.get(fields.thread)
    followers = record.get(fields.followers)
    refs = _refs(record.get(fields.reply_to), text, external_id)
    return Message(
        source=source,
        external_id=external_id,
        thread_key=str(thread) if thread not in (None, "") else (repost_key(text) or external_id),
        ref_id=external_id,
        refs=refs,
        is_reply=bool(refs),
        text=text,
        title=str(record.get(fields.title) or ""),
        created_at=created_at,
        channel=channel,
        author=Author(
            id=author_id,
            display_name=str(record.get(fields.author_name) or author_id),
            followers=int(followers)
            if isinstance(followers, int | str) and str(followers).isdigit()
            else None,
        ),
        url=str(record[fields.url]) if record.get(fields.url) else None,
        engagement=Engagement(
            _int(record, fields.likes), _int(record, fields.reposts), _int(record, fields.replies)
        ),
        raw_ref=raw_ref,
    )
