"""A story's tickets as rows (``monitor.stories.members``): pairs written once, on every database."""

from __future__ import annotations

from monitor.storage.db import Database
from monitor.stories import members


def test_pairs_already_recorded_are_left_alone_and_counts_follow(any_db: Database) -> None:
    with any_db.transaction() as session:
        members.add(session, {1: [3, 1], 2: [5]})
    with any_db.transaction() as session:
        members.add(session, {1: [2, 3, 1], 2: [5], 4: []})  # two known pairs and one new
        members.add(session, {})
    with any_db.read() as session:
        assert members.ticket_ids(session, 1) == [1, 2, 3]
        assert members.ticket_ids(session, 2) == [5]
        assert members.ticket_ids(session, 4) == []
        assert [members.count(session, story) for story in (1, 2, 4)] == [3, 1, 0]
