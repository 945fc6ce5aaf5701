"""The records every stage shares: a normalized message, its author, engagement and checkpoints.

This module is the leaf of the dependency graph: connectors, analysis, tickets and alerts all import
it, and it imports nothing of the project.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Message.flags value (also set by connectors that decode bytes themselves: connectors.hygiene)
INVALID_BYTES = "invalid-bytes-replaced"
# A lone UTF-16 surrogate: JSON may carry one ("\ud83d", half an emoji cut off by a source that
# truncates UTF-16), and the mail parser's surrogate escapes stand for undecodable bytes. No
# database, UTF-8 encoder or converter accepts one, so it would cost the whole message.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_surrogate(value: str) -> bool:
    if value.isascii():
        return False
    try:
        value.encode("utf-8")  # in C: a third of the time of a regex search over the text
    except UnicodeEncodeError:
        return True
    return False


def _clean(value: str) -> str:
    """``value`` with every lone surrogate replaced by U+FFFD (one code point for one)."""
    return _SURROGATE.sub("\ufffd", value) if _has_surrogate(value) else value


@dataclass(frozen=True, slots=True)
class Author:
    """Who wrote a message, as far as the source tells."""

    id: str = ""
    display_name: str = ""
    followers: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", _clean(self.id))
        object.__setattr__(self, "display_name", _clean(self.display_name))

    def __reduce__(self) -> tuple[type[Author], tuple[str, str, int | None]]:  # see Message.__reduce__
        return (Author, (self.id, self.display_name, self.followers))


@dataclass(frozen=True, slots=True)
class Engagement:
    """Public reaction counters (likes, reposts/retweets, replies/comments)."""

    likes: int = 0
    reposts: int = 0
    replies: int = 0

    def __reduce__(self) -> tuple[type[Engagement], tuple[int, int, int]]:  # see Message.__reduce__
        return (Engagement, (self.likes, self.reposts, self.replies))

    @property
    def total(self) -> int:
        return self.likes + self.reposts + self.replies


_TEXT_FIELDS = (
    "source", "external_id", "thread_key", "text", "channel", "title", "html", "url", "raw_ref", "noise",
    "ref_id", "topic", "ticket_code",
)


@dataclass(frozen=True, slots=True)
class Message:
    """One normalized message from any source.

    ``source`` is the configured source name; ``channel`` its kind of channel (``email``, ``chat``,
    ``reddit`` ...). ``external_id`` is unique within the source and stable across re-reads, so that
    storage can deduplicate replays. ``thread_key`` groups messages of one conversation: they land on
    one ticket. ``raw_ref`` points at the raw input (file and offset, IMAP UID ...) for operators.
    """

    source: str
    external_id: str
    thread_key: str
    text: str
    created_at: datetime
    channel: str = ""
    author: Author = field(default_factory=Author)
    title: str = ""
    html: str | None = None
    url: str | None = None
    engagement: Engagement = field(default_factory=Engagement)
    raw_ref: str = ""
    # Why this is not feedback from a person ("bounce", "report", "auto-reply", "list"); "" when it
    # is. Set by the mail connectors; the ticket stage keeps noise out of tickets.
    noise: str = ""
    # Threading evidence (docs/threading.md), resolved to a ticket by the ticket stage.
    # ``ref_id``: the id other messages use to point at this one (an e-mail's Message-ID, a chat
    # message's id in its export, a post's id or link). ``refs``: the ids this one replies to,
    # quotes or reposts, nearest first. ``topic``: what the conversation is about (an e-mail's
    # normalised subject); a reply (``is_reply``) with no known ``refs`` joins the latest message
    # of the same author and topic within a window. ``ticket_code``: a ticket it names (``Q000123``).
    ref_id: str = ""
    refs: tuple[str, ...] = ()
    topic: str = ""
    is_reply: bool = False
    ticket_code: str = ""
    # What was repaired on the way in, e.g. "time-unparsed" (fetch time used), "invalid-bytes-replaced"
    # (undecodable bytes became U+FFFD). Stored with the message for operators; empty when clean.
    flags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.created_at.tzinfo is None or self.created_at.utcoffset() is None:
            raise ValueError(f"Message.created_at must be timezone-aware: {self.created_at!r}")
        if not self.external_id:
            raise ValueError("Message.external_id must not be empty")
        if not self.thread_key:
            raise ValueError("Message.thread_key must not be empty")
        self._replace_surrogates()

    def _replace_surrogates(self) -> None:
        """Lone surrogates in any text field become U+FFFD, flagged ``invalid-bytes-replaced``:
        the message is kept and analysed (a complaint is not lost to half an emoji)."""
        values = [getattr(self, name) or "" for name in _TEXT_FIELDS]
        if not _has_surrogate("".join((*values, *self.refs))):  # one check in C for the usual case
            return
        for name, value in zip(_TEXT_FIELDS, values, strict=True):
            if _has_surrogate(value):
                object.__setattr__(self, name, _clean(value))
        object.__setattr__(self, "refs", tuple(map(_clean, self.refs)))
        if INVALID_BYTES not in self.flags:
            object.__setattr__(self, "flags", (*self.flags, INVALID_BYTES))

    # Messages go to the analysis workers pickled (monitor.ingest.analyse). A frozen slots
    # dataclass pickles through a Python loop over ``fields()``; a tuple for the constructor is
    # ~3x cheaper both ways (the checks above run again in the worker: a few attribute reads).
    def __reduce__(self) -> tuple[type[Message], tuple[object, ...]]:
        return (
            Message,
            (
                self.source, self.external_id, self.thread_key, self.text, self.created_at, self.channel,
                self.author, self.title, self.html, self.url, self.engagement, self.raw_ref, self.noise,
                self.ref_id, self.refs, self.topic, self.is_reply, self.ticket_code, self.flags,
            ),
        )


@dataclass(frozen=True, slots=True)
class Quarantined:
    """Input a connector could not turn into a Message: kept with its raw bytes and the reason."""

    source: str
    reason: str
    raw: bytes
    raw_ref: str = ""
    raw_size: int | None = None  # full size when ``raw`` was cut to a cap

    @property
    def size(self) -> int:
        return self.raw_size if self.raw_size is not None else len(self.raw)


# A checkpoint is the JSON-serialisable state a connector needs to resume. It is opaque to the
# core; connectors own its shape and must accept the value they produced.
Checkpoint = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Batch:
    """A unit of exactly-once ingestion: items and the checkpoint to store with them.

    The core stores all ``messages`` and ``quarantined`` items and the ``checkpoint`` in one
    transaction; a replay of the same batch stores nothing twice.
    """

    messages: tuple[Message, ...]
    checkpoint: Checkpoint
    quarantined: tuple[Quarantined, ...] = ()

    def __len__(self) -> int:
        return len(self.messages) + len(self.quarantined)
