"""Connecting, securing, authenticating, checking and waiting for new mail against a real Dovecot."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from connectors.imap import ImapConnector
from connectors.mail.imap_config import ImapConfig
from connectors.mail.imap_session import backoff_delay
from connectors.registry import connector_class
from monitor.errors import AuthError, UnavailableError
from tests.connectors.conformance import drain
from tests.connectors.imap.conftest import make_mail
from tests.connectors.imap.dovecot import OAUTH_USER, TOKEN, Dovecot, free_port

Build = Callable[..., ImapConnector]


def test_registered_as_imap() -> None:
    assert connector_class("imap") is ImapConnector


@pytest.mark.parametrize(
    ("security", "port_attr"), [("tls", "tls_port"), ("starttls", "port")], ids=["tls", "starttls"]
)
def test_tls_and_starttls_verify_the_server(
    dovecot: Dovecot, folder: str, make_connector: Build, security: str, port_attr: str
) -> None:
    dovecot.append(folder, [make_mail(1)])
    port = getattr(dovecot, port_attr)
    good = make_connector(dovecot, (folder,), security=security, port=port, ca_file=dovecot.ca_file)
    assert good.check() == []
    assert [m.title for m in drain(good, None)[0]] == ["订单问题 #1"]
    # the self-signed certificate is not in the system store: refused, and said so
    untrusted = make_connector(dovecot, (folder,), security=security, port=port)
    problems = untrusted.check()
    assert len(problems) == 1 and "certificate" in problems[0].lower()
    with pytest.raises(AuthError, match="certificate"):
        list(untrusted.fetch(None))


def test_xoauth2_token_from_file_and_command(
    own_dovecot: Dovecot, make_connector: Build, tmp_path: Path
) -> None:
    # own server: failed logins make Dovecot slow down later logins from the same address
    dovecot = own_dovecot
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n", encoding="utf-8")
    by_file = make_connector(dovecot, ("INBOX",), username=OAUTH_USER, password=None,
                             oauth2_token_file=token_file)
    assert by_file.check() == []
    command = (sys.executable, "-c", f"print({TOKEN!r})")
    by_command = make_connector(dovecot, ("INBOX",), username=OAUTH_USER, password=None,
                                oauth2_token_command=command)
    assert by_command.check() == []
    token_file.write_text("expired-token", encoding="utf-8")
    problems = by_file.check()
    assert len(problems) == 1 and problems[0].startswith("authentication/TLS problem")


def test_wrong_password_is_an_auth_error_and_secret_stays_out_of_messages(
    own_dovecot: Dovecot, make_connector: Build
) -> None:
    connector = make_connector(own_dovecot, ("INBOX",), password="wrong-pässword-xyz")
    with pytest.raises(AuthError) as caught:
        list(connector.fetch(None))
    assert "wrong-pässword-xyz" not in str(caught.value)
    assert "wrong-pässword-xyz" not in repr(connector)


def test_check_reports_missing_folders(dovecot: Dovecot, make_connector: Build) -> None:
    connector = make_connector(dovecot, ("INBOX", "nope"), after_store="move", move_to="archive-nope")
    assert connector.check() == [
        f"folder 'nope' does not exist on {dovecot.host}",
        f"folder 'archive-nope' does not exist on {dovecot.host}",
    ]


def test_unreachable_server_is_unavailable_after_backoff(make_connector: Build, dovecot: Dovecot) -> None:
    connector = make_connector(dovecot, ("INBOX",), port=free_port(), retries=2)
    started = time.monotonic()
    with capture_logs() as logs, pytest.raises(UnavailableError):
        list(connector.fetch(None))
    assert [e["attempt"] for e in logs if e["event"] == "imap.reconnect"] == [1, 2]
    assert time.monotonic() - started < 5
    assert connector.check()[0].startswith("connection problem")


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    delays = [[backoff_delay(n, 1.0, 30.0) for n in range(8)] for _ in range(50)]
    for attempt in range(8):
        ceiling = min(30.0, 2.0**attempt)
        seen = [d[attempt] for d in delays]
        assert all(ceiling / 2 <= d <= ceiling for d in seen)
        assert len(set(seen)) > 1  # jittered, not synchronised across sources


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"host": "mail.example.com", "security": "plain"}, "unencrypted"),
        ({"password": None}, "exactly one of"),
        ({"after_store": "move"}, "needs move_to"),
        ({"move_to": "INBOX"}, "watched folders"),
        ({"idle_reissue": 30 * 60}, "less than"),
    ],
    ids=["plaintext-off-loopback", "no-credentials", "move-without-target", "move-into-source", "idle-limit"],
)
def test_config_refuses_unsafe_or_inconsistent_settings(settings: dict[str, object], error: str) -> None:
    base: dict[str, object] = {"host": "127.0.0.1", "security": "plain", "username": "u", "password": "p"}
    with pytest.raises(ValidationError, match=error):
        ImapConfig.model_validate({**base, **settings})
    assert ImapConfig.model_validate({**base, "host": "mail.example.com", "allow_plaintext": True})


def _deliver_later(server: Dovecot, folder: str, delay: float, number: int) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(delay), server.append(folder, [make_mail(number)])))
    thread.start()
    return thread


def test_idle_sees_new_mail_within_two_seconds(dovecot: Dovecot, folder: str, make_connector: Build) -> None:
    connector = make_connector(dovecot, (folder,), poll_interval=300)
    _, checkpoint, _ = drain(connector, None)
    assert connector.wait_for_changes(0.3) is False  # nothing new: times out
    sender = _deliver_later(dovecot, folder, 0.5, 1)
    started = time.monotonic()
    assert connector.wait_for_changes(10) is True
    assert time.monotonic() - started < 0.5 + 2.0
    sender.join()
    assert [m.title for m in drain(connector, checkpoint)[0]] == ["订单问题 #1"]


def test_idle_is_reissued_and_still_sees_mail(dovecot: Dovecot, folder: str, make_connector: Build) -> None:
    connector = make_connector(dovecot, (folder,), idle_reissue=0.4)
    drain(connector, None)
    sender = _deliver_later(dovecot, folder, 1.5, 2)
    with capture_logs() as logs:
        assert connector.wait_for_changes(10) is True
    sender.join()
    assert sum(e["event"] == "imap.idle_reissued" for e in logs) >= 2


def test_polling_without_idle(dovecot: Dovecot, folder: str, make_connector: Build) -> None:
    connector = make_connector(dovecot, (folder,), idle=False, poll_interval=0.2)
    drain(connector, None)
    sender = _deliver_later(dovecot, folder, 0.3, 3)
    assert connector.wait_for_changes(5) is True
    sender.join()


def test_second_folder_is_watched_by_status_while_idling(
    dovecot: Dovecot, folder: str, make_connector: Build
) -> None:
    dovecot.create_folder(folder + "-b")
    connector = make_connector(dovecot, (folder, folder + "-b"), poll_interval=0.3)
    drain(connector, None)
    sender = _deliver_later(dovecot, folder + "-b", 0.3, 4)
    assert connector.wait_for_changes(5) is True
    sender.join()


def test_wait_returns_on_stop_and_on_a_dead_server(own_dovecot: Dovecot, make_connector: Build) -> None:
    connector = make_connector(own_dovecot, ("INBOX",))
    drain(connector, None)
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    assert connector.wait_for_changes(10, stop) is False
    assert time.monotonic() - started < 2
    threading.Timer(0.3, own_dovecot.stop).start()
    assert connector.wait_for_changes(10) is True  # "go fetch": the fetch reports the outage
