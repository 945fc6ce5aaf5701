"""The shared connector conformance suite against a real Dovecot."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connectors.imap import ImapConnector
from tests.connectors.conformance import ConnectorConformance
from tests.connectors.imap.conftest import make_mail
from tests.connectors.imap.dovecot import PASSWORD, Dovecot


class TestImapConformance(ConnectorConformance):
    min_messages = 5

    @pytest.fixture
    def connector(
        self, dovecot: Dovecot, folder: str, make_connector: Callable[..., ImapConnector]
    ) -> ImapConnector:
        dovecot.append(folder, (make_mail(i) for i in range(5)))
        return make_connector(dovecot, (folder,))

    @pytest.fixture
    def append_source(self, dovecot: Dovecot, folder: str) -> Callable[[int], int]:
        return lambda n: dovecot.append(folder, (make_mail(100 + i) for i in range(n)))

    @pytest.fixture
    def secret_values(self) -> list[str]:
        return [PASSWORD]
