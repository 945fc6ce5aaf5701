"""One poll of a connector into a real SQLite database, and what it left there.

The poison-record tests drive every connector through :func:`monitor.pipeline.poll_source` (the
daemon's own path: batches, guard, bisect, one transaction per batch) and then read the tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from connectors.base import Connector
from monitor.findings import Analyzer
from monitor.pipeline import PollStats, load_checkpoint, poll_source
from monitor.storage.db import Database
from monitor.storage.models import QuarantineItem, StoredMessage
from tests.helpers.builders import KeywordStub
from tests.helpers.context import context

ANALYZER = KeywordStub({"紧急": ("L1", True), "投诉": ("L2", True)})


@dataclass(frozen=True)
class Polled:
    stats: PollStats
    stored: int
    quarantine: list[tuple[str, str, bytes]]  # reason, raw_ref, raw
    checkpoint: Any


def poll_once(db: Database, connector: Connector[Any], *, analyzer: Analyzer = ANALYZER,
              batch_size: int = 500) -> Polled:
    stats = poll_source(lambda: context(db, analyzer), connector.name, connector, batch_size=batch_size)
    with db.read() as session:
        stored = int(session.scalar(select(func.count()).select_from(StoredMessage)) or 0)
        rows = [(q.reason, q.raw_ref, bytes(q.raw)) for q in session.scalars(select(QuarantineItem))]
    return Polled(stats, stored, rows, load_checkpoint(db, connector.name))
