"""Only ``db upgrade`` and ``run`` migrate; every other command refuses a database it does not match."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from monitor.cli import main
from monitor.storage.db import Database, alembic_config
from tests.helpers.builders import write_config, write_rules


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(
        tmp_path / "c.yaml",
        {
            "state_dir": str(tmp_path / "state"),
            "logging": {"format": "json", "level": "error"},
            "rules": {"paths": [str(write_rules(tmp_path / "rules"))]},
            "sources": [],
        },
    )


READ_ONLY = [
    ["tickets", "list"],
    ["tickets", "list", "--json"],
    ["tickets", "show", "Q000001"],
    ["quarantine", "list"],
    ["incidents", "list"],
    ["silence", "list"],
    ["review", "list"],
]


@pytest.mark.parametrize("argv", READ_ONLY, ids=lambda a: " ".join(a))
def test_missing_database_is_neither_created_nor_migrated(
    argv: list[str], config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), *argv]) == 2
    err = capsys.readouterr().err
    assert "yuqing db upgrade" in err and "Traceback" not in err
    assert not (tmp_path / "state").exists(), "a read-only command created the state directory"


def _migrate_to(url: str, revision: str) -> None:
    db = Database(url)
    with db.engine.begin() as connection:
        cfg = alembic_config(url)
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
    db.dispose()


def _revision(url: str) -> str:
    db = Database(url)
    with db.engine.connect() as connection:
        value = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    db.dispose()
    return str(value)


def test_an_older_schema_is_refused_and_left_alone(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'state' / 'yuqing.db'}"
    _migrate_to(url, "0001")
    assert main(["--config", str(config), "tickets", "list"]) == 2
    assert "yuqing db upgrade" in capsys.readouterr().err
    assert _revision(url) == "0001"
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    assert _revision(url) != "0001"
    assert main(["--config", str(config), "tickets", "list", "--json"]) == 0


def test_a_newer_schema_is_refused_by_run_and_by_the_cli(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    url = f"sqlite:///{tmp_path / 'state' / 'yuqing.db'}"
    db = Database(url)
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    db.dispose()
    capsys.readouterr()
    assert main(["--config", str(config), "tickets", "list"]) == 2
    assert "newer" in capsys.readouterr().err
    assert main(["--config", str(config), "run", "--once"]) == 2
    assert "newer" in capsys.readouterr().err
    assert _revision(url) == "9999_from_the_future"


def test_quarantine_retry_without_ids_says_so(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    capsys.readouterr()
    assert main(["--config", str(config), "quarantine", "retry"]) == 2
    assert "--all" in capsys.readouterr().err
