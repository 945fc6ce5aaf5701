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
