"""The knowledge base's search index: resolved tickets as analysis tokens, ranked with BM25.

A ticket's document is its title, content and customer messages, cut by the analysis chain
(``monitor.analysis``: the normalizer folds traditional to simplified with OpenCC, case and
full-width forms; jieba segments with the base dictionary the rule sets start from). The index
deliberately uses the *base* segmenter, not a rule set's: editing rule files never makes the
stored index stale. Term frequencies and document lengths are stored (``kb_terms``,
``kb_docs``); a ticket is (re)indexed when it becomes resolved or closed
(:func:`monitor.tickets.lifecycle.set_status`), when it is linked to a problem, and by
``yuqing kb rebuild``. Search ranks only tickets that are resolved or closed *now* (a reopened
ticket drops out until it is resolved again).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from monitor.analysis.normalize import Normalizer
from monitor.analysis.segment import segment
from monitor.storage.models import KbDoc, KbTerm, StoredMessage, Ticket, utcnow

DONE = ("resolved", "closed")
K1 = 1.2
B = 0.75
TERM_CHARS = 64  # kb_terms.term
MAX_MESSAGES = 50  # of one ticket, oldest first
MAX_CHARS = 20_000  # of one document
_WORD = re.compile(r"\w", re.UNICODE)
_STOP = (
    "的 了 是 我 你 他 她 它 我们 你们 在 和 与 有 也 就 都 吗 吧 呢 啊 呀 哦 嗯 这 那 这个 那个 一个 "
    "就是 还是 很 又 被 把 给 让 请 您 a an the is are was were be to of and or in on at for "
    "it its i my me we our you your this that with as by from do does did have has had"
)
STOPWORDS = frozenset(_STOP.split())


@cache
def _normalizer() -> Normalizer:
    return Normalizer()


def tokens(text: str) -> list[str]:
    """The analysis tokens of ``text`` that carry meaning: normalized, segmented, without
    whitespace, punctuation and a short list of function words."""
    value = _normalizer()(text[:MAX_CHARS]).value
    return [w[:TERM_CHARS] for w in segment(value).words if _WORD.search(w) and w not in STOPWORDS]


def document(session: Session, ticket: Ticket) -> str:
    """What a ticket says: title, content and its first messages."""
    texts = session.scalars(
        select(StoredMessage.text).where(StoredMessage.ticket_id == ticket.id).order_by(StoredMessage.id).limit(MAX_MESSAGES)
    ).all()
    parts = [ticket.title or "", ticket.content or "", *texts]
    unique = dict.fromkeys(p for p in parts if p)  # the content often repeats the first message
    return "\n".join(unique)[:MAX_CHARS]


def index_ticket(session: Session, ticket: Ticket, *, now: datetime | None = None) -> int:
    """(Re)index one ticket; returns its number of tokens."""
    counts = Counter(tokens(document(session, ticket)))
    session.execute(delete(KbTerm).where(KbTerm.ticket_id == ticket.id))
    session.execute(delete(KbDoc).where(KbDoc.ticket_id == ticket.id))
    length = sum(counts.values())
    session.add(KbDoc(ticket_id=ticket.id, length=length, indexed_at=now or utcnow()))
    if counts:
        session.execute(insert(KbTerm), [{"term": t, "ticket_id": ticket.id, "tf": n} for t, n in counts.items()])
    return length


def rebuild(session: Session, *, batch: int = 500) -> int:
    """Drop the index and index every resolved or closed ticket again; returns how many."""
    session.execute(delete(KbTerm))
    session.execute(delete(KbDoc))
    done = 0
    last = 0
    while True:
        chunk = session.scalars(
            select(Ticket).where(Ticket.status.in_(DONE), Ticket.id > last).order_by(Ticket.id).limit(batch)
        ).all()
        if not chunk:
            return done
        for ticket in chunk:
            index_ticket(session, ticket)
        done += len(chunk)
        last = chunk[-1].id
        session.flush()
        session.expunge_all()


@dataclass(frozen=True)
class Hit:
    ticket_id: int
    score: float
    matched: tuple[str, ...]


def _chunks(items: Sequence[int], size: int = 900) -> Iterable[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def search(session: Session, text: str, *, limit: int = 10) -> list[Hit]:
    """Resolved or closed tickets ranked by BM25 (k1 1.2, b 0.75) against ``text``'s tokens."""
    query = Counter(tokens(text))
    if not query:
        return []
    total, avg = session.execute(select(func.count(), func.avg(KbDoc.length))).one()
    if not total:
        return []
    avgdl = float(avg or 1) or 1.0
    terms = sorted(query)
    counted = session.execute(select(KbTerm.term, func.count()).where(KbTerm.term.in_(terms)).group_by(KbTerm.term))
    df: dict[str, int] = {term: n for term, n in counted.tuples()}
    idf = {t: math.log(1 + (total - n + 0.5) / (n + 0.5)) for t, n in df.items()}
    postings = session.execute(
        select(KbTerm.ticket_id, KbTerm.term, KbTerm.tf).where(KbTerm.term.in_(list(df)))
    ).tuples()
    found: dict[int, list[tuple[str, int]]] = {}
    for ticket_id, term, tf in postings:
        found.setdefault(ticket_id, []).append((term, tf))
    if not found:
        return []
    lengths: dict[int, int] = {}
    for ids in _chunks(sorted(found)):
        rows = session.execute(
            select(KbDoc.ticket_id, KbDoc.length)
            .join(Ticket, Ticket.id == KbDoc.ticket_id)
            .where(KbDoc.ticket_id.in_(ids), Ticket.status.in_(DONE))
        ).tuples()
        lengths.update((ticket_id, length) for ticket_id, length in rows)
    hits = []
    for ticket_id, length in lengths.items():
        score = 0.0
        for term, tf in found[ticket_id]:
            norm = tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / avgdl))
            score += idf[term] * norm * query[term]
        hits.append(Hit(ticket_id, score, tuple(sorted(t for t, _ in found[ticket_id]))))
    hits.sort(key=lambda h: (-h.score, -h.ticket_id))
    return hits[:limit]
