"""Throwaway databases on the local PostgreSQL and MariaDB servers, for tests and benches."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text

# kind -> (admin URL, URL template of a database named {db})
SERVERS: dict[str, tuple[str, str]] = {
    "postgresql": (
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        "postgresql+psycopg://postgres@127.0.0.1:5432/{db}",
    ),
    "mariadb": (
        "mysql+pymysql://root@127.0.0.1:3306/",
        "mysql+pymysql://root@127.0.0.1:3306/{db}?charset=utf8mb4",
    ),
}


@contextmanager
def throwaway_database(kind: str, prefix: str = "yq_") -> Iterator[str]:
    """A new, empty database on the local server of ``kind`` (utf8mb4 on MariaDB): yields its URL
    and drops the database afterwards."""
    admin_url, template = SERVERS[kind]
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            text(f"CREATE DATABASE {name}" + (" CHARACTER SET utf8mb4" if kind == "mariadb" else ""))
        )
    try:
        yield template.format(db=name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        admin.dispose()
