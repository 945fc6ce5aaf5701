"""The IMAP connector in the real ingest loop (monitor.pipeline.poll_source) on SQLite."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select

from connectors.imap import ImapConnector
from monitor.findings import Analysis
from monitor.pipeline import poll_source
from monitor.storage.db import Database
from monitor.storage.models import StoredMessage
from tests.connectors.imap.conftest import make_mail
from tests.connectors.imap.dovecot import Dovecot
from tests.helpers.context import context

NOTHING = Analysis(())


def _poll(db: Database, connector: ImapConnector) -> int:
    ctx = context(db, lambda m: NOTHING)
    stats = poll_source(lambda: ctx, connector.name, connector, batch_size=4)
    return stats.new


def test_poll_source_stores_once_then_flags_after_commit(
    own_dovecot: Dovecot, sqlite_db: Database, make_connector: Callable[..., ImapConnector]
) -> None:
    own_dovecot.create_folder("support")
    own_dovecot.append("support", (make_mail(i) for i in range(10)))
    connector = make_connector(own_dovecot, ("support",), after_store="seen")
    assert _poll(sqlite_db, connector) == 10
    admin = own_dovecot.client()
    admin.select_folder("support", readonly=True)
    assert len(admin.search(["SEEN"])) == 10  # after_commit ran after each committed batch
    admin.logout()
    own_dovecot.append("support", [make_mail(10)])
    assert _poll(sqlite_db, connector) == 1
    own_dovecot.reset_uidvalidity("support")  # renumbered: read again, stored nothing twice
    assert _poll(sqlite_db, connector) == 0
    with sqlite_db.read() as session:
        assert session.scalar(select(func.count()).select_from(StoredMessage)) == 11
