"""1,000 generated mails in every charset Chinese mail arrives in, through Dovecot: exact text."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from connectors.imap import ImapConnector
from tests.connectors.conformance import drain
from tests.connectors.imap.dovecot import Dovecot
from tests.connectors.mail.mailgen import VARIANTS, generate


def test_thousand_mixed_charset_mails_decode_to_the_expected_text(
    dovecot: Dovecot, folder: str, make_connector: Callable[..., ImapConnector]
) -> None:
    mails = list(generate(1000))
    assert len({m.variant.split("/")[0] + m.variant.split("/")[1] for m in mails}) == len(VARIANTS)
    dovecot.deliver(folder, (m.raw for m in mails))
    messages, _, batches = drain(make_connector(dovecot, (folder,)), None, batch_size=250)
    assert not [q.reason for b in batches for q in b.quarantined]
    by_sender = {m.author.id: m for m in messages}
    assert len(by_sender) == 1000
    wrong: Counter[str] = Counter()
    for mail in mails:
        got = by_sender[mail.sender]
        if (got.text, got.title, got.author.display_name) != (mail.text, mail.subject, mail.display_name):
            wrong[mail.variant] += 1
    assert not wrong, f"mis-decoded by variant: {dict(wrong)}"
