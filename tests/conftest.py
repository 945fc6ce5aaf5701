"""Shared fixtures: databases (SQLite always; PostgreSQL and MariaDB on 127.0.0.1)."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import structlog

from monitor.storage.db import Database
from tests.helpers.databases import throwaway_database

# Logging as it is before any test ran: a module-scoped fixture that runs a CLI command
# configures logging before the per-test snapshot below is taken, so restoring only to that
# snapshot let one module's level filter (e.g. errors only) silence later tests' captured logs.
_PRISTINE = structlog.get_config()
_ROOT = logging.getLogger()
_PRISTINE_ROOT = (list(_ROOT.handlers), _ROOT.level)


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """A test that runs a CLI command configures logging onto its captured stdout, which pytest
    closes afterwards; later tests would then log into a closed file. Put both back as they were
    before any test ran."""
    yield
    structlog.configure(**_PRISTINE)
    _ROOT.handlers[:] = _PRISTINE_ROOT[0]
    _ROOT.setLevel(_PRISTINE_ROOT[1])


ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

SERVERS = {"postgresql": ("127.0.0.1", 5432), "mariadb": ("127.0.0.1", 3306)}


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require_server(kind: str) -> None:
    """A test that needs a real server fails when it is missing (never skips)."""
    host, port = SERVERS[kind]
    if not _reachable(host, port):
        pytest.fail(f"{kind} is not running on {host}:{port}; .ci/run starts it (see README)")


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'yuqing.db'}")
    db.upgrade()
    yield db
    db.dispose()


@contextmanager
def server_database(kind: str) -> Iterator[str]:
    """A throwaway, empty database on the local server of ``kind``; yields its URL."""
    require_server(kind)
    with throwaway_database(kind) as url:
        yield url


def _server_db(kind: str) -> Iterator[Database]:
    with server_database(kind) as url:
        db = Database(url)
        try:
            db.upgrade()
            yield db
        finally:
            db.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The same test on every supported database."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'yuqing.db'}")
        db.upgrade()
        yield db
        db.dispose()
    else:
        yield from _server_db(request.param)
