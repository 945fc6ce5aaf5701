"""Story clusters: put every new post in the cluster of its near-duplicates (MinHash LSH).

Runs inside the batch transaction, as the first part of the incident step
(``monitor.tickets.incidents``, which holds the ``incidents`` row lock): candidates come from the
band-key indexes as ids and fingerprints only, the clusters that take posts are loaded as
objects, and the clusters the batch starts are written in one multi-row INSERT ... RETURNING.
A cluster's heat (engagement and author reach) is summed here, post by post.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import BindParameter, Table, bindparam, or_, select, update
from sqlalchemy.orm import Session

from monitor.findings import most_urgent
from monitor.message import Message
from monitor.storage.bulk import insert_ids, load_by_ids
from monitor.storage.models import Cluster, StoredMessage
from monitor.stored import NewMessage
from monitor.tickets.clusters import BUCKET, ClusterIndex
from monitor.tickets.fingerprint import Fingerprint, fingerprint, remember
from monitor.tickets.incident_settings import IncidentsConfig

_CHUNK = 400
_MESSAGES = cast(Table, StoredMessage.__table__)
_CLUSTERS = cast(Table, Cluster.__table__)
# The statements of every batch, built once with expanding IN parameters: building a select and
# its cache key per call cost more CPU than running it (bench/intake_cpu.py; the SQL is the same).
_c = _CLUSTERS.c
_KEYS: BindParameter[Any] = bindparam("keys", expanding=True)
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
# The key indexes are selective, last_seen is not (most clusters are recent): filtering it in SQL
# let PostgreSQL plan on ix_clusters_last_seen and scan every recent cluster.
_BY_KEYS = select(_c.id, _c.key0, _c.key1, _c.key2, _c.key3, _c.last_seen).where(
    or_(_c.key0.in_(_KEYS), _c.key1.in_(_KEYS), _c.key2.in_(_KEYS), _c.key3.in_(_KEYS))
)
_PRINTS = select(_c.id, _c.sketch, _c.key0, _c.key1, _c.key2, _c.key3).where(_c.id.in_(_IDS))
_CLUSTERS_BY_ID = select(Cluster).where(Cluster.id.in_(_IDS))
_LINK = update(_MESSAGES).where(_MESSAGES.c.id == bindparam("b_id")).values(cluster_id=bindparam("b_cluster"))


def message_heat(config: IncidentsConfig, message: Message) -> float:
    return heat_of(
        config,
        message.engagement.likes,
        message.engagement.reposts,
        message.engagement.replies,
        message.author.followers,
    )


def heat_of(config: IncidentsConfig, likes: int, reposts: int, replies: int, followers: int | None) -> float:
    h = config.heat
    return likes * h.likes + reposts * h.reposts + replies * h.replies + (followers or 0) * h.followers


def _candidates(session: Session, keys: set[int], cutoff: datetime) -> list[tuple[int, Fingerprint]]:
    """Live clusters sharing a band key with the batch: at most ``BUCKET`` newest per key, so the
    rows loaded per message stay bounded however many clusters are stored. Id and fingerprint
    only: most candidates take no post, and only those that do are loaded as objects."""
    newest: dict[int, list[int]] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), _CHUNK):
        for row in session.execute(_BY_KEYS, {"keys": ordered[start : start + _CHUNK]}):
            if row.last_seen >= cutoff:
                for key in {row.key0, row.key1, row.key2, row.key3} & keys:
                    newest.setdefault(key, []).append(row.id)
    wanted = sorted({i for found in newest.values() for i in sorted(found)[-BUCKET:]})
    loaded: list[tuple[int, Fingerprint]] = []
    for start in range(0, len(wanted), _CHUNK):
        for row in session.execute(_PRINTS, {"ids": wanted[start : start + _CHUNK]}):
            stored_keys = tuple(k for k in (row.key0, row.key1, row.key2, row.key3) if k is not None)
            loaded.append((row.id, Fingerprint(tuple(row.sketch), stored_keys)))
    return sorted(loaded, key=lambda candidate: candidate[0])


def _load_clusters(session: Session, ids: Sequence[int]) -> dict[int, Cluster]:
    out: dict[int, Cluster] = {}
    ordered = sorted(ids)
    for start in range(0, len(ordered), _CHUNK):
        clusters = session.scalars(_CLUSTERS_BY_ID, {"ids": ordered[start : start + _CHUNK]})
        out.update({cluster.id: cluster for cluster in clusters})
    return out


def _new_row(fp: Fingerprint, items: Sequence[NewMessage], config: IncidentsConfig) -> dict[str, Any]:
    """The row of a cluster the batch starts, with every post of the batch that joined it."""
    keys = list(fp.keys) + [None] * (4 - len(fp.keys))
    first = items[0].message
    text = (first.title or first.text).strip().replace("\n", " ")
    heat = 0.0
    for item in items:  # summed in post order, as a cluster stored earlier grows
        heat += message_heat(config, item.message)
    return {
        "sketch": list(fp.sketch),
        "key0": keys[0],
        "key1": keys[1],
        "key2": keys[2],
        "key3": keys[3],
        "title": text[:255],
        "message_count": len(items),
        "heat": heat,
        "reach": sum(item.message.author.followers or 0 for item in items),
        "priority": most_urgent(*(item.analysis.priority for item in items)),
        "first_seen": first.created_at,
        "last_seen": max(item.message.created_at for item in items),
        "incident_id": None,
    }


def _insert_clusters(session: Session, rows: list[dict[str, Any]]) -> list[Cluster]:
    """The batch's new clusters, persistent in the session, in ``rows`` order
    (:mod:`monitor.storage.bulk`), matched back by sketch - two new clusters of one batch never
    share a sketch, the second would have joined the first."""
    return load_by_ids(session, Cluster, insert_ids(session, _CLUSTERS, rows, "sketch"))


def post_text(message: Message) -> str:
    """What a post is clustered by."""
    return f"{message.title} {message.text}"


def post_fingerprint(message: Message) -> Fingerprint | None:
    """A post's clustering fingerprint (None for machine mail, which is never clustered). Pure: the
    analysis workers compute it next to the analysis (``monitor.pipeline``)."""
    return None if message.noise else fingerprint(post_text(message))


def remember_fingerprints(messages: Sequence[Message], prints: Sequence[Fingerprint | None]) -> None:
    """Fingerprints the workers computed, for :func:`cluster_messages` to find without hashing again."""
    for message, made in zip(messages, prints, strict=True):
        if made is not None:
            remember(post_text(message), made)


def cluster_messages(
    session: Session, new: Sequence[NewMessage], config: IncidentsConfig, *, now: datetime
) -> dict[int, tuple[Cluster, list[NewMessage]]]:
    """Put every new post in its story cluster; return the touched clusters with their new posts."""
    prints = [(item, fingerprint(post_text(item.message))) for item in new if not item.message.noise]
    prints = [(item, fp) for item, fp in prints if not fp.empty]
    if not prints:
        return {}
    earliest = min(item.message.created_at for item, _ in prints)
    cutoff = min(now, earliest) - timedelta(hours=config.cluster_ttl_hours)
    index = ClusterIndex(config.similarity)
    stored: dict[int, int] = {}  # index position -> id of a cluster stored before this batch
    for cluster_id, stored_print in _candidates(session, {k for _, fp in prints for k in fp.keys}, cutoff):
        stored[index.add(stored_print, cluster_id).index] = cluster_id
    touched: dict[int, list[NewMessage]] = {}
    started: dict[int, Fingerprint] = {}  # index position -> fingerprint of a cluster this batch starts
    for item, fp in prints:
        ref, created = index.assign(fp)
        if created:
            started[ref.index] = fp
        touched.setdefault(ref.index, []).append(item)
    loaded = _load_clusters(session, [stored[p] for p in touched if p not in started])
    rows = {p: loaded[stored[p]] for p in touched if p not in started}
    for position, items in touched.items():
        if position in started:
            continue
        cluster = rows[position]
        for item in items:
            cluster.message_count += 1
            cluster.heat += message_heat(config, item.message)
            cluster.reach += item.message.author.followers or 0
            cluster.priority = most_urgent(cluster.priority, item.analysis.priority)
            cluster.last_seen = max(cluster.last_seen, item.message.created_at)
    session.flush()
    fresh = [position for position in touched if position in started]
    made = _insert_clusters(session, [_new_row(started[p], touched[p], config) for p in fresh])
    rows.update(zip(fresh, made, strict=True))
    out: dict[int, tuple[Cluster, list[NewMessage]]] = {}
    links: list[dict[str, int]] = []
    for position, items in touched.items():
        cluster = rows[position]
        links += [{"b_id": item.row.id, "b_cluster": cluster.id} for item in items]
        out[cluster.id] = (cluster, items)
    # one executemany, not one UPDATE per cluster (most posts start a cluster of their own)
    session.execute(_LINK, links)
    return out
