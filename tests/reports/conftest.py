"""A SQLite database seeded with 50,000 tickets over six months (May–October 2026) and their SLA
results, satisfaction and survey answers, built once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from monitor.storage.db import Database
from tests.helpers.seed import Seeded, SeededOutcomes, seed, seed_outcomes

TICKETS = 50_000


@dataclass(frozen=True)
class SeededSite:
    config: Path
    database: Database
    seeded: Seeded
    outcomes: SeededOutcomes


def write_site(root: Path, url: str) -> Path:
    config = root / "yuqing.yaml"
    config.write_text(f"state_dir: {root / 'state'}\ndatabase:\n  url: {url}\n", encoding="utf-8")
    return config


@pytest.fixture(scope="session")
def seeded_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededSite]:
    root = tmp_path_factory.mktemp("seeded")
    url = f"sqlite:///{root / 'yuqing.db'}"
    db = Database(url)
    db.upgrade()
    seeded = seed(db.engine, TICKETS)
    outcomes = seed_outcomes(db.engine)  # SLA results, satisfaction and survey answers of those tickets
    yield SeededSite(write_site(root, url), db, seeded, outcomes)
    db.dispose()
