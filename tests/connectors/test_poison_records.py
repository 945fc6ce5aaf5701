"""One poison record never stalls a source: 1 bad among 1,000 good -> 999 stored, 1 quarantined.

Every file-based connector (and every chat-export format) is polled once through the daemon's own
path (``poll_source``) into a real SQLite database, with one record that breaks its parser placed
in the middle. The poll must store the 999 others, leave one quarantine row naming the problem
with the record's bytes, and advance the checkpoint: a second poll finds nothing new. The API
connectors (RSS, Reddit, X) and IMAP have their own poison tests next to their replays/Dovecot.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Connector
from connectors.chat_export import ChatExportConfig, ChatExportConnector
from connectors.files import FilesConfig, FilesConnector
from connectors.maildir import MaildirConfig, MaildirConnector
from connectors.mbox import MboxConfig, MboxConnector
from monitor.storage.db import Database
from tests.helpers.poison import poll_once

GOOD = 999
BAD_AT = 500  # the poison record sits in the middle of the input
NESTED = "[" * 5000 + "]" * 5000  # RecursionError in any recursive decoder


def mail(number: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"客户{number} <c{number}@example.com>"
    msg["To"] = "support@example.com"
    msg["Subject"] = f"订单问题 #{number}"
    msg["Message-ID"] = f"<poison-{number}@test.example>"
    msg["Date"] = format_datetime(datetime(2024, 5, 1, 8, 0, tzinfo=UTC) + timedelta(minutes=number))
    msg.set_content(f"您好，订单 {number} 还没有发货。")
    return msg.as_bytes()


CUT_OFF_MAIL = b"From: someone@example.com\nTo: support@example.com\nSubj"


def settle(folder: Path) -> None:
    old = time.time() - 3600
    for path in folder.rglob("*"):
        os.utime(path, (old, old))


def files_jsonl(root: Path) -> Connector[Any]:
    lines = [json.dumps({"id": f"r{i}", "text": f"反馈 {i}", "thread": f"t{i % 50}"}, ensure_ascii=False)
             for i in range(GOOD)]
    lines.insert(BAD_AT, '{"id": "bad", "text": ' + NESTED + "}")
    (root / "feed.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return FilesConnector("poison", FilesConfig.model_validate({"path": root, "settle_seconds": 0}))


def files_csv(root: Path) -> Connector[Any]:
    rows = [f"c{i},反馈 {i},t{i % 50}" for i in range(GOOD)]
    rows.insert(BAD_AT, "bad,one,two,three,four")
    (root / "feed.csv").write_text("id,text,thread\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return FilesConnector("poison", FilesConfig.model_validate({"path": root, "settle_seconds": 0}))


def maildir(root: Path) -> Connector[Any]:
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir()
    for i in range(GOOD):
        (root / "new" / f"{1700000000 + i}.M{i}P1.test").write_bytes(mail(i))
    (root / "new" / f"{1700000000 + BAD_AT}.M{BAD_AT}Pbad.test").write_bytes(CUT_OFF_MAIL)
    return MaildirConnector("poison", MaildirConfig(path=root))


def mbox(root: Path) -> Connector[Any]:
    chunks = [b"From c%d@example.com Wed May  1 08:00:00 2024\n" % i + mail(i) + b"\n" for i in range(GOOD)]
    chunks.insert(BAD_AT, b"From x@example.com Wed May  1 08:00:00 2024\nSubj\n\n")
    (root / "inbox.mbox").write_bytes(b"".join(chunks))
    settle(root)
    return MboxConnector("poison", MboxConfig(path=root / "inbox.mbox"))


def telegram(root: Path) -> Connector[Any]:
    messages = [
        {"id": i, "type": "message", "date": "2024-03-04T10:00:00", "date_unixtime": str(1709546400 + i),
         "from": f"客户{i % 7}", "from_id": f"user{i % 7}", "text": f"第{i}条消息"}
        for i in range(GOOD)
    ]
    body = [json.dumps(m, ensure_ascii=False) for m in messages]
    body.insert(BAD_AT, '{"id": 99999, "type": "message", "date_unixtime": "1709546400", '
                        '"from": "x", "from_id": "user9", "text": ' + NESTED + "}")
    document = '{"name": "客服群", "type": "private_group", "id": 42, "messages": [' + ",\n".join(body) + "]}"
    (root / "result.json").write_text(document, encoding="utf-8")
    return ChatExportConnector("poison", ChatExportConfig(path=root))


def whatsapp(root: Path) -> Connector[Any]:
    lines = [f"{1 + i % 28:02d}/03/24, {i % 24:02d}:{i % 60:02d} - 客户{i % 7}: 第{i}条消息" for i in range(GOOD)]
    # binary data spliced into the text export (a photo's bytes from a broken sync): NUL never
    # occurs in a WhatsApp text export, and PostgreSQL cannot store it in a text column
    lines.insert(BAD_AT, "05/03/24, 10:00 - 客户1: IMG-0001.jpg \x00\x00\x00\x10JFIF\x00\x01")
    (root / "WhatsApp Chat with 客服.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ChatExportConnector("poison", ChatExportConfig(path=root, date_order="dmy"))


WECHAT_HEADER = "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender"


def wechat_csv(root: Path) -> Connector[Any]:
    rows = [f"{i},wxid_c,1,0,0,{1709546400 + i},2,第{i}条消息,,客户,客户,wxid_c" for i in range(GOOD)]
    rows.insert(BAD_AT, "9999,wxid_c,1,0")
    (root / "客户_utf8.csv").write_text(WECHAT_HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return ChatExportConnector("poison", ChatExportConfig(path=root))


def slack(root: Path) -> Connector[Any]:
    (root / "channels.json").write_text('[{"id": "C1", "name": "support"}]', encoding="utf-8")
    (root / "users.json").write_text('[{"id": "U1", "name": "ann"}]', encoding="utf-8")
    (root / "support").mkdir()
    items = [json.dumps({"type": "message", "user": "U1", "text": f"message {i}", "ts": f"{1709546400 + i}.000100"})
             for i in range(GOOD)]
    items.insert(BAD_AT, '"not a message object"')
    (root / "support" / "2024-03-04.json").write_text("[" + ",\n".join(items) + "]", encoding="utf-8")
    return ChatExportConnector("poison", ChatExportConfig(path=root))


def generic(root: Path) -> Connector[Any]:
    lines = [json.dumps({"msg": f"第{i}条", "at": f"2024-03-04 10:{i % 60:02d}", "who": f"u{i % 9}"},
                        ensure_ascii=False) for i in range(GOOD)]
    lines.insert(BAD_AT, json.dumps({"msg": ["投诉", "x"], "at": "2024-03-04 10:00", "who": "u1"},
                                    ensure_ascii=False))
    (root / "log.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    mapping = {"text": "msg", "created_at": "at", "sender": "who"}
    return ChatExportConnector("poison", ChatExportConfig(path=root, format="generic", mapping=mapping))


@dataclass(frozen=True)
class Case:
    build: Callable[[Path], Connector[Any]]
    reason: str  # regular expression the quarantine reason must match


CASES = {
    "files-jsonl": Case(files_jsonl, r"parser error RecursionError.* in feed\.jsonl"),
    "files-csv": Case(files_csv, r"CSV row has 5 fields, header has 3 in feed\.csv"),
    "maildir": Case(maildir, r"mail cut off: the header block ends inside a line"),
    "mbox": Case(mbox, r"no e-mail headers found"),
    "chat-telegram": Case(telegram, r"message nested too deeply to read"),
    "chat-whatsapp": Case(whatsapp, r"binary data \(NUL bytes\) inside a WhatsApp message"),
    "chat-wechat-csv": Case(wechat_csv, r"4 columns where the header has 12"),
    "chat-slack": Case(slack, r"Slack message is not an object"),
    "chat-generic": Case(generic, r"'msg' is a list, not text"),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_one_poison_record_among_a_thousand_is_quarantined_in_one_poll(
    tmp_path: Path, sqlite_db: Database, case: Case
) -> None:
    root = tmp_path / "source"
    root.mkdir()
    connector = case.build(root)

    first = poll_once(sqlite_db, connector)
    assert (first.stored, first.stats.new) == (GOOD, GOOD)
    (reason, raw_ref, raw) = first.quarantine[0]
    assert len(first.quarantine) == 1, first.quarantine
    assert re.search(case.reason, reason), reason
    assert raw and raw_ref
    assert first.checkpoint, "the checkpoint moved past the whole input"

    again = poll_once(sqlite_db, connector)
    assert (again.stats.new, again.stats.quarantined, again.stored) == (0, 0, GOOD)
    assert len(again.quarantine) == 1, "the poison record is quarantined once, not on every poll"
