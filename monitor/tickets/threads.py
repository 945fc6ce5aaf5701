"""Which ticket each new message belongs to: the evidence a connector found, resolved in storage.

Order of evidence, strongest first (see docs/threading.md):

1. a ticket code the message names (``[Q000123]`` in an e-mail subject);
2. a reference (``refs``: e-mail ``In-Reply-To``/``References``, a chat reply-to id, a reposted or
   quoted post), nearest first: the ticket of the stored message with that ``ref_id`` - in any
   source, since these ids are global (RFC Message-IDs, namespaced chat and post ids) - or of an
   earlier message of the same batch; a ``text:<key>`` reference (a post a ``//@user:`` chain
   quotes by its words, connectors.reposts) is the stored message with that ``text_key``;
3. the thread key: the latest message of this source with the same key, or the ticket created
   for that key;
4. an original that arrives after reposts of it: the ticket of the latest stored (or earlier in
   the batch) repost whose chain starts with this message's author and words (``root_key``);
5. a reply without usable references (``is_reply``): the latest message of the same source,
   author and ``topic`` (normalised subject) within the window;
6. otherwise a new ticket for the thread key.

Messages are taken in time order, so a root and its reply in one batch land on one ticket.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import BindParameter, Table, bindparam, func, select
from sqlalchemy.orm import Session

from connectors.reposts import TEXT_REF, post_keys
from monitor.storage.models import Source, StoredMessage, Ticket
from monitor.stored import NewMessage

MESSAGES = cast(Table, StoredMessage.__table__)
_CHUNK = 500
# The lookups of every batch, built once with expanding IN parameters: building a select and its
# cache key per call cost more CPU than running it (bench/intake_cpu.py); the SQL is the same.
_c = MESSAGES.c
_IN: BindParameter[Any] = bindparam("values", expanding=True)
_SOURCE: BindParameter[Any] = bindparam("source_id")
_BY_REF = {
    column.name: select(column, _c.source_id, _c.id, _c.ticket_id).where(column.in_(_IN), _c.ticket_id.is_not(None))
    for column in (_c.ref_id, _c.text_key)
}
_BY_ROOT = select(_c.root_key, _c.id, _c.ticket_id).where(_c.root_key.in_(_IN), _c.ticket_id.is_not(None))
_TICKET_BY_KEY = select(Ticket.thread_key, Ticket.id).where(Ticket.source_id == _SOURCE, Ticket.thread_key.in_(_IN))
# the latest ticketed message per key (one row per key, however long the thread)
_LATEST_BY_KEY = (
    select(_c.thread_key, func.max(_c.id))
    .where(_c.source_id == _SOURCE, _c.thread_key.in_(_IN), _c.ticket_id.is_not(None))
    .group_by(_c.thread_key)
)
_TICKET_OF_ROW = select(_c.id, _c.ticket_id).where(_c.id.in_(_IN))
_TICKET_BY_CODE = select(Ticket.code, Ticket.id).where(Ticket.code.in_(_IN))
_TICKETS = select(Ticket).where(Ticket.id.in_(_IN))


@dataclass(eq=False)
class Slot:
    """A ticket that this batch puts messages on: an existing one, or one to create."""

    thread_key: str
    ticket: Ticket | None = None
    items: list[NewMessage] = field(default_factory=list)


@dataclass
class _Stored:
    """What storage knows before the batch: ticket ids by code, reference, key and topic."""

    tickets: dict[int, Ticket]
    by_code: dict[str, int]
    by_ref: dict[str, int]
    by_key: dict[str, int]
    by_topic: dict[tuple[str, str], list[tuple[datetime, int]]]
    by_root: dict[str, int]


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


def _refs(session: Session, source_id: int, refs: Iterable[str]) -> dict[str, int]:
    """Ticket of the stored message with each ref id (this source first, then the latest);
    ``text:<key>`` refs by the message's text key."""
    best: dict[str, tuple[bool, int, int]] = {}
    wanted = set(refs)
    texts = {ref for ref in wanted if ref.startswith(TEXT_REF)}
    for column, prefix, values in (("ref_id", "", wanted - texts), ("text_key", TEXT_REF, texts)):
        for chunk in _chunks(value[len(prefix):] for value in values):
            for value, row_source, row_id, ticket_id in session.execute(_BY_REF[column], {"values": chunk}):
                ref, rank = prefix + value, (row_source == source_id, row_id, ticket_id)
                if ref not in best or rank > best[ref]:
                    best[ref] = rank
    return {ref: rank[2] for ref, rank in best.items()}


def _roots(session: Session, keys: Iterable[str]) -> dict[str, int]:
    """Ticket of the latest stored repost whose chain's original has each text key (any source)."""
    found: dict[str, tuple[int, int]] = {}
    for chunk in _chunks(keys):
        for key, row_id, ticket_id in session.execute(_BY_ROOT, {"values": chunk}):
            if key not in found or row_id > found[key][0]:
                found[key] = (row_id, ticket_id)
    return {key: ticket for key, (_row, ticket) in found.items()}


def _keys(session: Session, source_id: int, keys: Iterable[str]) -> dict[str, int]:
    """Ticket of the latest message with each thread key, else the ticket made for the key."""
    found: dict[str, int] = {}
    for chunk in _chunks(keys):
        params = {"source_id": source_id, "values": chunk}
        found.update({key: ticket_id for key, ticket_id in session.execute(_TICKET_BY_KEY, params)})
        row_keys = {row_id: key for key, row_id in session.execute(_LATEST_BY_KEY, params)}
        if row_keys:
            rows = session.execute(_TICKET_OF_ROW, {"values": list(row_keys)})
            found.update({row_keys[row_id]: ticket_id for row_id, ticket_id in rows})
    return found


def _topics(
    session: Session, source_id: int, items: Sequence[NewMessage], window: timedelta
) -> dict[tuple[str, str], list[tuple[datetime, int]]]:
    """Stored (time, ticket) of the same author and topic near the replies of this batch."""
    wanted = [i.message for i in items if i.message.is_reply and i.message.topic and i.message.author.id]
    if not wanted or window <= timedelta(0):
        return {}
    since = min(m.created_at for m in wanted) - window
    authors = sorted({m.author.id[:255] for m in wanted})
    found: dict[tuple[str, str], list[tuple[datetime, int]]] = {}
    c = MESSAGES.c
    for chunk in _chunks(m.topic[:64] for m in wanted):
        query = select(c.topic, c.author_id, c.created_at, c.ticket_id).where(
            c.source_id == source_id,
            c.topic.in_(chunk),
            c.author_id.in_(authors[:_CHUNK]) if len(authors) <= _CHUNK else c.author_id.is_not(None),
            c.ticket_id.is_not(None),
            c.created_at >= since,
        )
        for topic, author, created, ticket_id in session.execute(query):
            found.setdefault((topic, author), []).append((created, ticket_id))
    return found


def _load(session: Session, source: Source, items: Sequence[NewMessage], window: timedelta) -> _Stored:
    messages = [i.message for i in items]
    by_code: dict[str, int] = {}
    for chunk in _chunks(m.ticket_code for m in messages if m.ticket_code):
        rows = session.execute(_TICKET_BY_CODE, {"values": chunk})
        by_code.update({str(code): ticket_id for code, ticket_id in rows})
    by_ref = _refs(session, source.id, (r[:255] for m in messages for r in m.refs))
    by_key = _keys(session, source.id, (m.thread_key[:255] for m in messages))
    by_topic = _topics(session, source.id, items, window)
    by_root = _roots(session, (key for i in items for key in keys_of(i)[2]))
    ids = {*by_code.values(), *by_ref.values(), *by_key.values(), *by_root.values()}
    ids.update(ticket for pairs in by_topic.values() for _, ticket in pairs)
    tickets: dict[int, Ticket] = {}
    wanted = sorted(ids)
    for start in range(0, len(wanted), _CHUNK):
        part = wanted[start : start + _CHUNK]
        tickets.update({t.id: t for t in session.scalars(_TICKETS, {"values": part})})
    return _Stored(tickets, by_code, by_ref, by_key, by_topic, by_root)


class _Batch:
    """The walk over one batch in time order, remembering what earlier messages resolved to."""

    def __init__(self, stored: _Stored, window: timedelta) -> None:
        self.stored = stored
        self.window = window
        self.slots: list[Slot] = []
        self._existing: dict[int, Slot] = {}
        self._refs: dict[str, Slot] = {}
        self._keys: dict[str, Slot] = {}
        self._topics: dict[tuple[str, str], list[tuple[datetime, Slot]]] = {}
        self._roots: dict[str, Slot] = {}

    def _ticket(self, ticket_id: int | None) -> Slot | None:
        ticket = self.stored.tickets.get(ticket_id) if ticket_id is not None else None
        if ticket is None:
            return None
        slot = self._existing.get(ticket.id)
        if slot is None:
            slot = self._existing[ticket.id] = Slot(ticket.thread_key, ticket)
            self.slots.append(slot)
        return slot

    def _by_topic(self, key: tuple[str, str], at: datetime) -> Slot | None:
        near: list[tuple[datetime, Slot]] = [
            (when, slot) for when, slot in self._topics.get(key, []) if abs(at - when) <= self.window
        ]
        for when, ticket_id in self.stored.by_topic.get(key, []):
            slot = self._ticket(ticket_id) if abs(at - when) <= self.window else None
            if slot is not None:
                near.append((when, slot))
        return max(near, key=lambda pair: pair[0])[1] if near else None

    def _find(self, item: NewMessage) -> Slot | None:
        message = item.message
        stored = self.stored
        if message.ticket_code and (slot := self._ticket(stored.by_code.get(message.ticket_code))):
            return slot
        for ref in message.refs:
            ref = ref[:255]
            slot = self._refs.get(ref) or self._ticket(stored.by_ref.get(ref))
            if slot is not None:
                return slot
        key = message.thread_key[:255]
        slot = self._keys.get(key) or self._ticket(stored.by_key.get(key))
        if slot is not None:
            return slot
        for own in keys_of(item)[2]:
            slot = self._roots.get(own) or self._ticket(stored.by_root.get(own))
            if slot is not None:
                return slot
        if message.is_reply and message.topic and message.author.id and self.window > timedelta(0):
            return self._by_topic(_topic_key(message), message.created_at)
        return None

    def add(self, item: NewMessage) -> None:
        message = item.message
        slot = self._find(item)
        if slot is None:
            slot = Slot(message.thread_key[:255])
            self.slots.append(slot)
        slot.items.append(item)
        if message.ref_id:
            self._refs[message.ref_id[:255]] = slot
        key, root, _owners = keys_of(item)
        if key:
            self._refs[TEXT_REF + key] = slot
        if root:
            self._roots.setdefault(root, slot)
        self._keys[message.thread_key[:255]] = slot
        if message.topic and message.author.id:
            self._topics.setdefault(_topic_key(message), []).append((message.created_at, slot))


def keys_of(item: NewMessage) -> tuple[str, str, tuple[str, ...]]:
    """``(text_key, root_key, owner_keys)`` of a message: as storage computed them for its row,
    else from its text."""
    if item.row.keys is None:
        message = item.message
        found = post_keys(message.text, (message.author.display_name, message.author.id))
        item.row.keys = (found.text_key, found.root_key, found.owner_keys)
    return item.row.keys


def _topic_key(message: Any) -> tuple[str, str]:
    return (str(message.topic)[:64], str(message.author.id)[:255])


def resolve(session: Session, source: Source, new: Sequence[NewMessage], *, window: timedelta) -> list[Slot]:
    """The slots (existing or new tickets) of a batch's messages, in first-use order."""
    batch = _Batch(_load(session, source, new, window), window)
    for item in sorted(new, key=lambda i: i.message.created_at):
        batch.add(item)
    return [slot for slot in batch.slots if slot.items]
