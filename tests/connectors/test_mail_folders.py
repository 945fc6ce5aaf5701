"""Maildir and mbox connectors: conformance, threading, bad mail to quarantine."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest

from connectors.maildir import MaildirConfig, MaildirConnector
from connectors.mbox import MboxConfig, MboxConnector
from tests.connectors.conformance import ConnectorConformance, drain


def mail(i: int, *, reply_to: int | None = None, subject: str = "问题") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"客户{i} <c{i}@example.cn>"
    msg["To"] = "support@example.com"
    msg["Subject"] = subject if reply_to is None else f"回复: {subject}"
    msg["Message-ID"] = f"<m{i}@example.cn>"
    msg["Date"] = "Mon, 02 Nov 2026 10:00:00 +0800"
    if reply_to is not None:
        msg["In-Reply-To"] = f"<m{reply_to}@example.cn>"
        msg["References"] = f"<m{reply_to}@example.cn>"
    msg.set_content(f"第 {i} 封邮件的正文")
    return bytes(msg)


def deliver(maildir: Path, i: int, raw: bytes | None = None) -> None:
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    tmp = maildir / "tmp" / f"17000000{i:02d}.M{i}P1.host"
    tmp.write_bytes(raw if raw is not None else mail(i))
    tmp.rename(maildir / "new" / tmp.name)


class TestMaildirConformance(ConnectorConformance):
    min_messages = 3

    @pytest.fixture
    def connector(self, tmp_path: Path) -> MaildirConnector:
        for i in range(3):
            deliver(tmp_path / "md", i)
        return MaildirConnector("mail", MaildirConfig(path=tmp_path / "md"))

    @pytest.fixture
    def append_source(self, tmp_path: Path) -> Callable[[int], int]:
        def append(n: int) -> int:
            for i in range(n):
                deliver(tmp_path / "md", 50 + i)
            return n

        return append


def test_maildir_reply_threads_onto_the_original(tmp_path: Path) -> None:
    deliver(tmp_path, 1)
    deliver(tmp_path, 2, mail(2, reply_to=1))
    messages, _, _ = drain(MaildirConnector("mail", MaildirConfig(path=tmp_path)), None)
    assert {m.thread_key for m in messages} == {"<m1@example.cn>"}
    assert messages[0].text == "第 1 封邮件的正文"
    assert messages[0].author.id == "c1@example.cn"


def test_moving_new_to_cur_is_not_a_new_message(tmp_path: Path) -> None:
    deliver(tmp_path, 1)
    connector = MaildirConnector("mail", MaildirConfig(path=tmp_path))
    first, checkpoint, _ = drain(connector, None)
    name = next((tmp_path / "new").iterdir()).name
    (tmp_path / "new" / name).rename(tmp_path / "cur" / f"{name}:2,S")
    again, _, _ = drain(connector, checkpoint)
    assert [m.external_id for m in again] == [m.external_id for m in first], "same key: storage deduplicates"


def test_maildir_bad_and_oversized_mail_is_quarantined(tmp_path: Path) -> None:
    deliver(tmp_path, 1, b"\x00\x01\x02 binary junk")
    deliver(tmp_path, 2, mail(2) + b"x" * 5000)
    deliver(tmp_path, 3)
    connector = MaildirConnector("mail", MaildirConfig(path=tmp_path, max_message_bytes=4096))
    batches = list(connector.fetch(None))
    assert [m.external_id.split(".")[1] for b in batches for m in b.messages] == ["M3P1"]
    reasons = sorted(q.reason for b in batches for q in b.quarantined)
    assert reasons[0].startswith("binary data") and reasons[1].startswith("message larger than 4096")


def mbox_entry(i: int) -> bytes:
    body = mail(i).replace(b"\nFrom ", b"\n>From ")
    return b"From c%d@example.cn Mon Nov  2 10:00:00 2026\n" % i + body + b"\n"


class TestMboxConformance(ConnectorConformance):
    min_messages = 3

    @pytest.fixture
    def connector(self, tmp_path: Path) -> MboxConnector:
        (tmp_path / "box").write_bytes(b"".join(mbox_entry(i) for i in range(3)))
        return MboxConnector("box", MboxConfig(path=tmp_path / "box", settle_seconds=0))

    @pytest.fixture
    def append_source(self, tmp_path: Path) -> Callable[[int], int]:
        def append(n: int) -> int:
            with (tmp_path / "box").open("ab") as handle:
                for i in range(n):
                    handle.write(mbox_entry(60 + i))
            return n

        return append


def test_mbox_waits_for_the_last_message_until_settled(tmp_path: Path) -> None:
    box = tmp_path / "box"
    box.write_bytes(mbox_entry(1) + mbox_entry(2))
    connector = MboxConnector("box", MboxConfig(path=box, settle_seconds=60))
    messages, checkpoint, _ = drain(connector, None)
    assert [m.thread_key for m in messages] == ["<m1@example.cn>"]
    with box.open("ab") as handle:
        handle.write(mbox_entry(3))
    messages, _, _ = drain(connector, checkpoint)
    assert [m.thread_key for m in messages] == ["<m2@example.cn>"]


def test_mbox_unescapes_from_lines_in_bodies(tmp_path: Path) -> None:
    msg = EmailMessage()
    msg["Subject"] = "x"
    msg["Message-ID"] = "<f@x>"
    msg.set_content("line one\nFrom the start\n")
    body = bytes(msg).replace(b"\nFrom ", b"\n>From ")
    (tmp_path / "box").write_bytes(b"From a@b Mon Nov  2 10:00:00 2026\n" + body)
    (message,), _, _ = drain(MboxConnector("box", MboxConfig(path=tmp_path / "box", settle_seconds=0)), None)
    assert "\nFrom the start" in message.text
