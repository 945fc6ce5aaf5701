"""Log hygiene: library lines are structured events; error texts carry no bytes reprs."""

from __future__ import annotations

import imaplib
import io
import json
import logging

import structlog

from monitor.errors import describe
from monitor.logging import configure_logging


def test_a_library_line_becomes_a_structured_event() -> None:
    out = io.StringIO()
    configure_logging("info", "json", stream=out)
    try:
        logging.getLogger("imapclient.imapclient").warning("Connection closed")
        structlog.get_logger("yuqing").info("poll.done", source="mail")
    finally:
        configure_logging("warning", "json")
    library, ours = (json.loads(line) for line in out.getvalue().splitlines())
    assert library["event"] == "library.log"
    assert (library["logger"], library["message"], library["level"]) == (
        "imapclient.imapclient",
        "Connection closed",
        "warning",
    )
    assert "timestamp" in library and "timestamp" in ours
    assert ours["event"] == "poll.done"


def test_library_lines_below_warning_stay_quiet_for_noisy_libraries() -> None:
    out = io.StringIO()
    configure_logging("info", "json", stream=out)
    try:
        logging.getLogger("imapclient").info("> b'A001 NOOP'")
    finally:
        configure_logging("warning", "json")
    assert out.getvalue() == ""


def test_server_errors_are_described_without_bytes_reprs() -> None:
    error = imaplib.IMAP4.error(b"[AUTHENTICATIONFAILED] Authentication failed.")
    assert str(error).startswith("b'")
    assert describe(error) == "[AUTHENTICATIONFAILED] Authentication failed."
    assert describe(ValueError("plain", b"\xe4\xb8\xad")) == "plain; 中"
    assert describe(RuntimeError()) == "RuntimeError"
