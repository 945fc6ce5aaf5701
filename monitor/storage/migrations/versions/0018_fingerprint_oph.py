"""clusters: sketches and band keys recomputed for one hash per feature (one-permutation LSH)

The fingerprint now hashes each feature once (packed code points through splitmix64 instead of
two BLAKE2b digests) and takes the LSH band keys from bins of that one hash
(``monitor.tickets.fingerprint``). A new post's keys would never meet a cluster stored with the
old ones, so every stored cluster's sketch and keys are recomputed from its first post's text
(``title text``, as clustering reads it; the cluster's title if its posts are gone), a batch of
clusters at a time so memory stays bounded. Downgrade recomputes the old format the same way.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-29

Branch ``fp16``: renumber at merge if another 0018 lands first.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

BATCH = 500  # clusters per round trip
Made = tuple[list[int], list[int | None]]  # sketch, key0..key3

_clusters = sa.table(
    "clusters",
    sa.column("id", sa.BigInteger),
    sa.column("title", sa.String),
    sa.column("sketch", sa.JSON),
    *(sa.column(f"key{n}", sa.BigInteger) for n in range(4)),
)
_messages = sa.table(
    "messages",
    sa.column("id", sa.BigInteger),
    sa.column("cluster_id", sa.BigInteger),
    sa.column("title", sa.String),
    sa.column("text", sa.Text),
)


def _current(text: str) -> Made:
    """What clustering computes now (the code of this revision or later: the same format)."""
    from monitor.tickets.fingerprint import sketch_of
    from monitor.tickets.shingles import feature_hashes

    made = sketch_of(feature_hashes(text))
    return list(made.sketch), [*made.keys, *[None] * (4 - len(made.keys))]


def _legacy(text: str) -> Made:
    """The format before this revision: an 8-byte BLAKE2b per feature for the bottom-24 sketch and
    eight 8-byte words of a 64-byte BLAKE2b (person ``yuqing-lsh``) whose per-column minima make
    four band keys of two - all with the top bit cleared."""
    from monitor.tickets.shingles import features

    feats = features(text)
    if not feats:
        return [], [None] * 4
    mask = (1 << 63) - 1
    encoded = [feature.encode("utf-8") for feature in feats]
    rows = b"".join(hashlib.blake2b(e, digest_size=64, person=b"yuqing-lsh").digest() for e in encoded)
    values = struct.unpack(f"<{len(encoded) * 8}Q", rows)
    minima = [min(v & mask for v in values[column::8]) for column in range(8)]
    keys: list[int | None] = []
    for band in range(4):
        data = struct.pack("<QQB", minima[2 * band], minima[2 * band + 1], band)
        keys.append(int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") & mask)
    one = sorted(int.from_bytes(hashlib.blake2b(e, digest_size=8).digest(), "little") & mask for e in encoded)
    return one[:24], keys


def _first_texts(connection: sa.Connection, ids: list[int]) -> dict[int, str]:
    """Each cluster's first post as clustering reads it: ``f"{title} {text}"``."""
    m = _messages.c
    firsts = sa.select(m.cluster_id, sa.func.min(m.id)).where(m.cluster_id.in_(ids)).group_by(m.cluster_id)
    first = dict(connection.execute(firsts).tuples().all())
    if not first:
        return {}
    query = sa.select(m.cluster_id, m.title, m.text).where(m.id.in_(list(first.values())))
    return {cluster: f"{title} {text}" for cluster, title, text in connection.execute(query)}


def recompute(connection: sa.Connection, make: Callable[[str], Made], *, batch: int = BATCH) -> int:
    """Rewrite every cluster's sketch and keys with ``make``; returns how many clusters."""
    c = _clusters.c
    change = (
        sa.update(_clusters)
        .where(c.id == sa.bindparam("b_id"))
        .values(sketch=sa.bindparam("b_sketch"), **{f"key{n}": sa.bindparam(f"b_key{n}") for n in range(4)})
    )
    done, last = 0, None
    while True:
        query = sa.select(c.id, c.title).order_by(c.id).limit(batch)
        rows = connection.execute(query if last is None else query.where(c.id > last)).tuples().all()
        if not rows:
            return done
        texts = _first_texts(connection, [cluster for cluster, _ in rows])
        params = []
        for cluster, title in rows:
            sketch, keys = make(texts.get(cluster, title or ""))
            params.append({"b_id": cluster, "b_sketch": sketch, **{f"b_key{n}": keys[n] for n in range(4)}})
        connection.execute(change, params)
        done, last = done + len(rows), rows[-1][0]


def upgrade() -> None:
    recompute(op.get_bind(), _current)


def downgrade() -> None:
    recompute(op.get_bind(), _legacy)
