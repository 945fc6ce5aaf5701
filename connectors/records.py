"""Turn a flat record (a JSON object or a CSV row) into a Message, with a configurable field map."""

from __future__ import annotations

import hashlib
from datetime import datetime, tzinfo
from typing import Any

from pydantic import BaseModel, ConfigDict

from connectors.hygiene import optional_text, require_text, scalar_id
from connectors.reposts import chain_refs, quoted_refs, repost_key
from connectors.timeparse import resolve_time
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
    return tuple(dict.fromkeys([*ids, *quoted_refs(text, own=own), *chain_refs(text)]))


def record_to_message(
    record: dict[str, Any],
    fields: FieldMap,
    *,
    source: str,
    channel: str,
    zone: tzinfo,
    raw_ref: str,
    default_time: datetime,
    time_format: str | None = None,
) -> Message:
    """Build a Message; raises BadInputError when the record has no text, or text/ids that are
    not strings. A time that cannot be read is not an error: the fetch time is used and flagged."""
    text = require_text(record.get(fields.text), fields.text)
    author_id = scalar_id(record.get(fields.author), fields.author)
    record_id = scalar_id(record.get(fields.id), fields.id)
    thread = scalar_id(record.get(fields.thread), fields.thread)
    created_raw = record.get(fields.created_at)
    created_at, flags = resolve_time(created_raw, now=default_time, zone=zone, time_format=time_format)
    if record_id:
        external_id = record_id
    else:
        basis = "\x1f".join([thread, str(created_raw or ""), author_id, text])
        external_id = "h:" + hashlib.sha256(basis.encode("utf-8")).hexdigest()[:32]
    followers = record.get(fields.followers)
    url = record.get(fields.url)
    refs = _refs(record.get(fields.reply_to), text, external_id)
    return Message(
        source=source,
        external_id=external_id,
        thread_key=thread or repost_key(text) or external_id,
        ref_id=external_id,
        refs=refs,
        is_reply=bool(refs),
        text=text,
        title=optional_text(record.get(fields.title), fields.title),
        created_at=created_at,
        channel=channel,
        author=Author(
            id=author_id,
            display_name=optional_text(record.get(fields.author_name), fields.author_name) or author_id,
            followers=int(followers)
            if isinstance(followers, int | str) and str(followers).isdigit()
            else None,
        ),
        url=url if isinstance(url, str) and url else None,
        engagement=Engagement(
            _int(record, fields.likes), _int(record, fields.reposts), _int(record, fields.replies)
        ),
        raw_ref=raw_ref,
        flags=flags,
    )
