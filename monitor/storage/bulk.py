"""Rows a batch creates in bulk: one multi-row INSERT ... RETURNING, then the rows as ORM objects.

The ticket and cluster stages create hundreds of rows per batch. The unit of work inserts them one
statement per row on SQLite (it needs each id back, in order) and its per-object bookkeeping cost
more than the rest of the stage, and an ORM constructor with every column cost 3x loading the
row; so the rows are inserted with Core and then loaded by id, persistent in the session.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any, TypeVar, cast

from sqlalchemy import Insert, Select, Table, bindparam, insert, select
from sqlalchemy.orm import Session

CHUNK = 500  # ids per IN list
_Model = TypeVar("_Model")


# Statements built once per table or model (the pipeline runs them in every batch): building a
# statement and its cache key per call cost more CPU than running it; the SQL is the same.
@cache
def _returning(table: Table, key: str) -> Insert:
    return insert(table).returning(table.c.id, table.c[key])


@cache
def _by_ids(model: type[Any]) -> Select[Any]:
    return select(model).where(model.id.in_(bindparam("ids", expanding=True)))


def insert_ids(session: Session, table: Table, rows: Sequence[dict[str, Any]], key: str) -> list[int]:
    """Insert ``rows`` (every row with every column) into ``table``; their ids, in ``rows`` order.

    One multi-row INSERT ... RETURNING (SQLite >= 3.35, PostgreSQL, MariaDB >= 10.5). RETURNING
    does not promise the rows' order, so the ids are matched back by the ``key`` column, which must
    be unique among ``rows`` (a JSON list compares as a tuple). A server without RETURNING for
    several rows (MySQL, older SQLite or MariaDB) takes one INSERT per row."""
    if not rows:
        return []
    connection = session.connection()
    if not connection.dialect.insert_executemany_returning:
        ids: list[int] = []
        for row in rows:
            made = connection.execute(insert(table), row).inserted_primary_key
            assert made is not None
            ids.append(int(made[0]))
        return ids
    result = connection.execute(_returning(table, key), list(rows))
    by_key = {_hashable(value): int(row_id) for row_id, value in result}
    return [by_key[_hashable(row[key])] for row in rows]


def load_by_ids(session: Session, model: type[_Model], ids: Sequence[int]) -> list[_Model]:
    """The rows of ``model`` with ``ids``, in that order (a few ``IN`` queries)."""
    loaded: dict[int, _Model] = {}
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), CHUNK):
        rows = session.scalars(_by_ids(cast(Any, model)), {"ids": ordered[start : start + CHUNK]})
        loaded.update({cast(Any, row).id: row for row in rows})
    return [loaded[row_id] for row_id in ids]


def _hashable(value: Any) -> Hashable:
    return tuple(value) if isinstance(value, list) else cast(Hashable, value)


_QUEUE = "yuqing.bulk.queue"


@contextmanager
def written_together(session: Session) -> Iterator[None]:
    """Rows queued with :func:`queue_row` inside the block are inserted when it ends: one
    executemany per table, in the order they were queued (SQLite's unit of work inserts such rows
    - outbox rows, audit events - one statement each, as it must read every id back). Nothing
    inside the block may read the queued rows back; a nested block leaves them to the outer one."""
    if _QUEUE in session.info:
        yield
        return
    queue: dict[Table, list[dict[str, Any]]] = {}
    session.info[_QUEUE] = queue
    try:
        yield
    finally:
        del session.info[_QUEUE]
    connection = session.connection()
    for table, rows in queue.items():
        start = 0
        for end in range(1, len(rows) + 1):  # runs of rows with the same columns, in order
            if end == len(rows) or rows[end].keys() != rows[start].keys():
                connection.execute(insert(table), rows[start:end])
                start = end


def queue_row(session: Session, table: Table, row: dict[str, Any]) -> bool:
    """Queue ``row`` for the enclosing :func:`written_together` block; False outside one (the
    caller adds the row as an object)."""
    queue: dict[Table, list[dict[str, Any]]] | None = session.info.get(_QUEUE)
    if queue is None:
        return False
    queue.setdefault(table, []).append(row)
    return True
