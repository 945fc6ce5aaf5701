"""Migration 0018 recomputes every stored cluster's sketch and band keys in the new fingerprint
format (and downgrade in the old one), from each cluster's first post, on every database.

Clusters stored before the upgrade must keep taking new posts: after it, a stored cluster has
exactly the fingerprint a new post with its first post's text gets, so a repost finds it.
"""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from monitor.storage.db import Database, alembic_config
from monitor.tickets.clusters import ClusterIndex
from monitor.tickets.fingerprint import Fingerprint, features, fingerprint
from tests.shared_data import SHARED_DATA
from tests.storage.test_migrations import migrating

NOW = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
CLUSTERS = 520  # more than one batch of the migration (500)


def _legacy(text_: str) -> Fingerprint:
    """The stored format before 0018 (the per-feature definition the old tests pinned)."""
    mask = (1 << 63) - 1
    feats = features(text_)
    if not feats:
        return Fingerprint(())

    def row(feature: str) -> tuple[int, ...]:
        digest = hashlib.blake2b(feature.encode(), digest_size=64, person=b"yuqing-lsh").digest()
        return tuple(int.from_bytes(digest[i : i + 8], "little") & mask for i in range(0, 64, 8))

    def one(feature: str) -> int:
        return int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little") & mask

    def band_key(band: int, values: tuple[int, ...]) -> int:
        data = b"".join(v.to_bytes(8, "little") for v in values) + bytes([band])
        return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") & mask

    minima = tuple(map(min, zip(*map(row, feats), strict=True)))
    keys = tuple(band_key(b, minima[b * 2 : b * 2 + 2]) for b in range(4))
    return Fingerprint(tuple(sorted(map(one, feats))[:24]), keys)


def _alembic(db: Database, action: str, revision: str) -> None:
    with db.engine.begin() as connection:
        cfg = alembic_config(db.url)
        cfg.attributes["connection"] = connection
        getattr(command, action)(cfg, revision)


@cache
def _reviews() -> list[str]:
    with open(SHARED_DATA / "sentiment" / "waimai_10k.csv", encoding="utf-8", newline="") as handle:
        texts = dict.fromkeys(row["review"].strip() for row in csv.DictReader(handle))
    return [t for t in texts if len(t) >= 20][: CLUSTERS + 1]


def _post(number: int) -> tuple[str, str]:
    """A cluster's first post (title, text): real delivery complaints; every seventh has a title."""
    return (f"投诉{number}" if number % 7 == 0 else "", _reviews()[number])


def _seed(db: Database) -> None:
    """Under 0017: clusters in the old format, each with its posts (the first one is what it was
    made from, a later one differs), and one cluster whose posts are gone."""
    clusters, messages = [], []
    for number in range(1, CLUSTERS + 1):
        title, body = _post(number)
        old = _legacy(f"{title} {body}")
        clusters.append({"id": number, "sketch": json.dumps(list(old.sketch)), "title": (title or body)[:255],
                         **{f"k{n}": old.keys[n] for n in range(4)}, "now": NOW})
        for offset, words in ((0, body), (1, "后来的回复，和第一条无关")):
            messages.append({"id": 2 * number - 1 + offset, "ext": f"m{number}-{offset}", "title": title if not offset else "",
                             "text": words, "cluster": number, "now": NOW})
    clusters.append({"id": CLUSTERS + 1, "sketch": "[1, 2]", "title": "只剩标题的旧聚类", "k0": 1, "k1": 2, "k2": 3, "k3": 4,
                     "now": NOW})
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO sources (id, name, kind, created_at) VALUES (1, 'weibo', 'rss', :now)"), {"now": NOW})
        conn.execute(
            text("INSERT INTO clusters (id, sketch, key0, key1, key2, key3, title, message_count, heat, reach,"
                 " first_seen, last_seen) VALUES (:id, :sketch, :k0, :k1, :k2, :k3, :title, 2, 0, 0, :now, :now)"),
            clusters,
        )
        conn.execute(
            text("INSERT INTO messages (id, source_id, external_id, thread_key, channel, author_id, author_name,"
                 " title, text, likes, reposts, replies, raw_ref, created_at, ingested_at, cluster_id, flags)"
                 " VALUES (:id, 1, :ext, :ext, 'rss', 'u', 'u', :title, :text, 0, 0, 0, '', :now, :now, :cluster, '')"),
            messages,
        )


def _stored(db: Database) -> dict[int, Fingerprint]:
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, sketch, key0, key1, key2, key3 FROM clusters ORDER BY id")).all()
    out = {}
    for row in rows:
        sketch = row.sketch if isinstance(row.sketch, list) else json.loads(row.sketch)
        out[row.id] = Fingerprint(tuple(sketch), tuple(k for k in row[2:] if k is not None))
    return out


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
def test_0018_recomputes_every_cluster_from_its_first_post(kind: str, tmp_path: Path) -> None:
    with migrating(kind, tmp_path) as db:
        _alembic(db, "upgrade", "0017")
        _seed(db)
        before = _stored(db)
        _alembic(db, "upgrade", "0018")
        after = _stored(db)
        for number in range(1, CLUSTERS + 1):
            title, body = _post(number)
            assert after[number] == fingerprint(f"{title} {body}"), f"cluster {number}"
            assert after[number].keys != before[number].keys
        assert after[CLUSTERS + 1] == fingerprint("只剩标题的旧聚类")
        # a repost of a stored post finds its cluster through the recomputed keys
        index = ClusterIndex(0.6)
        for number, stored in after.items():
            index.add(stored, number)
        found = index.find(fingerprint(f"转发微博//@甲: {_post(300)[1]}"))
        assert found is not None and found.cluster_id == 300
        _alembic(db, "downgrade", "0017")
        restored = _stored(db)
        assert {n: restored[n] for n in range(1, CLUSTERS + 1)} == {n: before[n] for n in range(1, CLUSTERS + 1)}
        assert restored[CLUSTERS + 1] == _legacy("只剩标题的旧聚类")
