"""Bulk-created rows come back as ORM objects in the order they were given, ids matched by key."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.storage.bulk import insert_ids, load_by_ids
from monitor.storage.db import Database
from monitor.storage.models import Cluster

WHEN = datetime(2024, 5, 1, tzinfo=UTC)


def _row(number: int) -> dict[str, object]:
    return {
        "sketch": [number, number * 7, 3],
        "key0": number,
        "key1": None,
        "key2": None,
        "key3": None,
        "title": f"cluster {number}",
        "message_count": 1,
        "heat": 0.5,
        "reach": number,
        "priority": None,
        "first_seen": WHEN,
        "last_seen": WHEN,
        "incident_id": None,
    }


@pytest.mark.parametrize("returning", [True, False], ids=["insert-returning", "row-by-row"])
def test_rows_come_back_in_the_order_given(any_db: Database, returning: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not returning:  # what a server without multi-row RETURNING (MySQL) takes
        monkeypatch.setattr(any_db.engine.dialect, "insert_executemany_returning", False)
    rows = [_row(n) for n in (5, 1, 9, 3)]
    with any_db.transaction() as session:
        ids = insert_ids(session, Cluster.__table__, rows, "sketch")  # type: ignore[arg-type]
        made = load_by_ids(session, Cluster, ids)
        assert [c.title for c in made] == ["cluster 5", "cluster 1", "cluster 9", "cluster 3"]
        assert [c.id for c in made] == ids and len(set(ids)) == 4
        assert all(session.identity_map.get(session.identity_key(Cluster, i)) is not None for i in ids)
    with any_db.read() as session:
        stored = {c.id: (c.sketch, c.reach) for c in load_by_ids(session, Cluster, list(reversed(ids)))}
    assert [stored[i] for i in ids] == [([5, 35, 3], 5), ([1, 7, 3], 1), ([9, 63, 3], 9), ([3, 21, 3], 3)]


def test_nothing_to_insert(sqlite_db: Database) -> None:
    with sqlite_db.transaction() as session:
        assert insert_ids(session, Cluster.__table__, [], "sketch") == []  # type: ignore[arg-type]
        assert load_by_ids(session, Cluster, []) == []
