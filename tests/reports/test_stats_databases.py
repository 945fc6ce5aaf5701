"""The same tickets give the very same month of metrics on SQLite, PostgreSQL and MariaDB.

PostgreSQL computes percentiles with ``percentile_cont``, SQLite and MariaDB with ranked rows;
durations come from three different date functions. Every field must agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from monitor.reports.compute import month_stats
from monitor.reports.period import Month
from monitor.reports.settings import ReportsConfig
from monitor.storage.db import Database
from tests.conftest import server_database
from tests.helpers.seed import seed

TICKETS = 3000


def _stats(url: str) -> dict[str, Any]:
    db = Database(url)
    try:
        db.upgrade()
        seed(db.engine, TICKETS)
        return month_stats(db.engine, ReportsConfig(), Month(2026, 10)).to_json()
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _stats(f"sqlite:///{tmp_path_factory.mktemp('ref') / 'ref.db'}")


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"], ids=["postgresql", "mariadb"])
def test_server_stats_equal_sqlite(kind: str, reference: dict[str, Any], tmp_path: Path) -> None:
    with server_database(kind) as url:
        stats = _stats(url)
    assert reference["totals"]["tickets"] > 400
    assert reference["totals"]["first_response"]["p90_hours"] is not None
    for key in reference:
        assert stats[key] == reference[key], key


def _grouped_both_ways(url: str) -> tuple[dict[Any, Any], dict[Any, Any]]:
    from sqlalchemy import text

    from monitor.reports import metrics
    from monitor.reports.compute import dialect_of
    from monitor.reports.records import DIMENSIONS

    db = Database(url)
    try:
        db.upgrade()
        seed(db.engine, TICKETS)
        dialect = dialect_of(db.engine, 8)
        keys = [None, *DIMENSIONS.values()]
        with db.engine.connect() as conn:
            if dialect.name == "postgresql":
                conn.execute(text("SET LOCAL jit = off"))
            metrics.build_facts(conn, dialect, Month(2026, 10))
            per_key = {key: metrics.groups(conn, dialect, key) for key in keys}  # one SQL grouping each
            at_once = metrics.all_groups(conn, dialect, keys)
            conn.rollback()
        return per_key, at_once
    finally:
        db.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mariadb"])
def test_all_groupings_at_once_equal_one_query_per_grouping(kind: str, tmp_path: Path) -> None:
    """The report's one-scan rollup and sorted-read percentiles give exactly the per-grouping SQL
    (aggregates and ranked / percentile_cont percentiles) on every database."""
    if kind == "sqlite":
        per_key, at_once = _grouped_both_ways(f"sqlite:///{tmp_path / 'g.db'}")
    else:
        with server_database(kind) as url:
            per_key, at_once = _grouped_both_ways(url)
    assert per_key[None][0].tickets > 400 and len(per_key["channel"]) > 2
    assert at_once == per_key
