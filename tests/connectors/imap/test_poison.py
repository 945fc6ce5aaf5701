"""IMAP: one cut-off mail among 1,000 on a real Dovecot is quarantined; the folder is not stalled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monitor.storage.db import Database
from tests.connectors.imap.conftest import make_mail
from tests.connectors.imap.dovecot import Dovecot
from tests.helpers.poison import poll_once


def test_one_cut_off_mail_among_a_thousand_is_quarantined_in_one_poll(
    dovecot: Dovecot, folder: str, make_connector: Callable[..., Any], sqlite_db: Database
) -> None:
    mails = [make_mail(n) for n in range(999)]
    mails.insert(500, b"From: someone@example.com\r\nTo: support@example.com\r\nSubj")
    dovecot.deliver(folder, mails)
    connector = make_connector(dovecot, (folder,))

    first = poll_once(sqlite_db, connector)
    assert (first.stored, first.stats.new) == (999, 999)
    ((reason, raw_ref, raw),) = first.quarantine
    assert reason == "mail cut off: the header block ends inside a line"
    assert raw.endswith(b"Subj") and ";UID=" in raw_ref
    assert first.checkpoint["folders"][folder]["uid"] == 1000
    again = poll_once(sqlite_db, connector)
    assert (again.stats.new, again.stats.quarantined) == (0, 0)
