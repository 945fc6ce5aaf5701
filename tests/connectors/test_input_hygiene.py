"""Input hygiene: BOMs, text that is not text, ids that are not scalars, missing paths, cut-off
mail, WhatsApp media placeholders, replaced bytes flagged, flags stored, attachment sizes."""

from __future__ import annotations

import base64
import codecs
import json
import os
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors.chat_export import ChatExportConfig, ChatExportConnector
from connectors.files import FilesConfig, FilesConnector
from connectors.mail.parse import parse_mail
from connectors.maildir import MaildirConfig, MaildirConnector
from connectors.mbox import MboxConfig, MboxConnector
from monitor.errors import BadInputError, SourceMissingError
from monitor.message import Batch
from monitor.pipeline import process_batch
from monitor.storage.db import Database
from monitor.storage.models import StoredMessage
from tests.connectors.conformance import drain
from tests.helpers.builders import KeywordStub, message
from tests.helpers.context import context

BOM = codecs.BOM_UTF8


def files(folder: Path, **options: Any) -> FilesConnector:
    return FilesConnector("drop", FilesConfig.model_validate({"path": folder, "settle_seconds": 0, **options}))


def chats(path: Path, **options: Any) -> ChatExportConnector:
    return ChatExportConnector("chats", ChatExportConfig(path=path, **options))


def everything(connector: Any) -> tuple[list[Any], list[Any]]:
    batches = list(connector.fetch(None))
    return [m for b in batches for m in b.messages], [q for b in batches for q in b.quarantined]


# -- BOM at the start of any text file -----------------------------------------------------------

BOM_FILES = {
    "jsonl": ("a.jsonl", '{"id": "1", "text": "第一行"}\n{"id": "2", "text": "第二行"}\n', ["第一行", "第二行"]),
    "jsonl-by-content": ("a.log", '{"id": "1", "text": "第一行"}\n', ["第一行"]),
    "csv": ("a.csv", "id,text\n1,第一行\n2,第二行\n", ["第一行", "第二行"]),
    "text": ("a.txt", "第一行\n第二行\n", ["第一行", "第二行"]),
}


@pytest.mark.parametrize(("name", "content", "texts"), list(BOM_FILES.values()), ids=list(BOM_FILES))
def test_a_bom_at_the_start_of_a_file_is_not_part_of_the_first_record(
    tmp_path: Path, name: str, content: str, texts: list[str]
) -> None:
    (tmp_path / name).write_bytes(BOM + content.encode())
    messages, quarantined = everything(files(tmp_path))
    assert quarantined == []
    assert [m.text for m in messages] == texts
    assert all("\ufeff" not in m.text and "\ufeff" not in m.external_id for m in messages)
    if name.endswith(".csv"):
        assert [m.external_id for m in messages] == ["1", "2"], "the first column is 'id', not '\\ufeffid'"


CHAT_BOM = {
    "telegram": ("result.json", json.dumps({"name": "群", "id": 1, "messages": [
        {"id": 1, "type": "message", "date_unixtime": "1709546400", "from": "A", "from_id": "u1", "text": "你好"}]},
        ensure_ascii=False)),
    "whatsapp": ("WhatsApp Chat with A.txt", "04/03/24, 10:00 - A: 你好\n"),
    "wechat-csv": ("A_utf8.csv",
                   "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,"
                   "Sender\n1,wx,1,0,0,1709546400,2,你好,,A,A,wx\n"),
    "wechat-txt": ("A.txt", "2024-03-04 10:00:00 A\n你好\n\n"),
    "slack-like-generic": ("log.jsonl", '{"msg": "你好", "at": "2024-03-04 10:00"}\n'),
}


@pytest.mark.parametrize(("name", "content"), list(CHAT_BOM.values()), ids=list(CHAT_BOM))
def test_chat_exports_with_a_bom_are_read(tmp_path: Path, name: str, content: str) -> None:
    (tmp_path / name).write_bytes(BOM + content.encode())
    mapping = {"text": "msg", "created_at": "at"} if name.endswith(".jsonl") else None
    messages, quarantined = everything(chats(tmp_path, mapping=mapping))
    assert quarantined == []
    assert [m.text for m in messages] == ["你好"]


# -- text must be text, ids must be scalars --------------------------------------------------------

NOT_TEXT = {
    "number": ('{"id": "x", "text": 12}', "'text' is a number, not text"),
    "float": ('{"id": "x", "text": 1.5}', "'text' is a number, not text"),
    "list": ('{"id": "x", "text": ["投诉", "x"]}', "'text' is a list, not text"),
    "object": ('{"id": "x", "text": {"a": 1}}', "'text' is an object, not text"),
    "boolean": ('{"id": "x", "text": true}', "'text' is a boolean, not text"),
    "nan": ('{"id": "x", "text": NaN}', "'text' is NaN, not text"),
    "null": ('{"id": "x", "text": null}', "record has no 'text' field"),
    "blank": ('{"id": "x", "text": "  "}', "record has no 'text' field"),
    "object-id": ('{"id": {"nested": 1}, "text": "t"}', "'id' must be a string or an integer, not an object"),
    "list-id": ('{"id": [1], "text": "t"}', "'id' must be a string or an integer, not a list"),
    "float-id": ('{"id": 1.5, "text": "t"}', "'id' must be a string or an integer, not a number"),
    "bool-id": ('{"id": true, "text": "t"}', "'id' must be a string or an integer, not a boolean"),
    "object-thread": ('{"id": "x", "text": "t", "thread": {"a": 1}}', "'thread' must be a string or an integer, not an object"),
    "object-author": ('{"id": "x", "text": "t", "author": ["a"]}', "'author' must be a string or an integer, not a list"),
    "list-title": ('{"id": "x", "text": "t", "title": ["a"]}', "'title' is a list, not text"),
}


@pytest.mark.parametrize(("line", "reason"), list(NOT_TEXT.values()), ids=list(NOT_TEXT))
def test_values_of_the_wrong_type_are_quarantined_never_stringified(tmp_path: Path, line: str, reason: str) -> None:
    (tmp_path / "a.jsonl").write_text('{"id": "ok", "text": "fine"}\n' + line + "\n", encoding="utf-8")
    messages, quarantined = everything(files(tmp_path))
    assert [m.external_id for m in messages] == ["ok"]
    (bad,) = quarantined
    assert bad.reason == f"{reason} in a.jsonl"
    assert bad.raw == line.encode() + b"\n"


def test_integer_ids_are_kept_as_their_digits(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"id": 12345678901234567890, "text": "t", "author": 7}\n', encoding="utf-8")
    (msg,), _ = everything(files(tmp_path))
    assert (msg.external_id, msg.author.id) == ("12345678901234567890", "7")


TELEGRAM_BAD = {
    "number-text": (42, "'text' is a number, not text"),
    "object-text": ({"text": "x"}, "'text' is an object, not text"),
    "nested-entity": ([{"type": "bold", "text": [["深"]]}], "'text entity' is a list, not text"),
    "list-in-list": ([["a"]], "'text part' is a list, not text"),
}


@pytest.mark.parametrize(("text", "reason"), list(TELEGRAM_BAD.values()), ids=list(TELEGRAM_BAD))
def test_telegram_text_that_is_not_text_is_quarantined(tmp_path: Path, text: Any, reason: str) -> None:
    good = {"id": 1, "type": "message", "date_unixtime": "1709546400", "from": "A", "from_id": "u1",
            "text": ["好", {"type": "bold", "text": "的"}]}
    bad = dict(good, id=2, text=text)
    (tmp_path / "result.json").write_text(json.dumps({"name": "g", "id": 1, "messages": [good, bad]}),
                                          encoding="utf-8")
    messages, quarantined = everything(chats(tmp_path))
    assert [m.text for m in messages] == ["好的"]
    assert [q.reason for q in quarantined] == [reason]


# -- missing paths are errors, not empty sources ---------------------------------------------------


def make_missing(kind: str, root: Path) -> Any:
    path = root / "gone"
    if kind == "files":
        return files(path)
    if kind == "maildir":
        return MaildirConnector("m", MaildirConfig(path=path))
    if kind == "mbox":
        return MboxConnector("m", MboxConfig(path=path))
    return chats(path)


@pytest.mark.parametrize("kind", ["files", "maildir", "mbox", "chat_export"])
def test_a_missing_path_is_an_error_naming_it(tmp_path: Path, kind: str) -> None:
    connector = make_missing(kind, tmp_path)
    with pytest.raises(SourceMissingError, match=r"gone (does not exist|is not a file)"):
        list(connector.fetch(None))
    assert connector.check() and "gone" in connector.check()[0]


def test_a_file_where_a_folder_belongs_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "gone").write_text("x", encoding="utf-8")
    with pytest.raises(SourceMissingError, match="is not a folder"):
        list(files(tmp_path / "gone").fetch(None))


def test_a_maildir_without_new_and_cur_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "md").mkdir()
    with pytest.raises(SourceMissingError, match=r"is not a Maildir \(no new/ or cur/\)"):
        list(MaildirConnector("m", MaildirConfig(path=tmp_path / "md")).fetch(None))


# -- cut-off mail headers --------------------------------------------------------------------------

CUT_OFF = {
    "only-subj": (b"Subj", "no e-mail headers found"),
    "subj-after-headers": (b"From: a@example.com\nTo: b@example.com\nSubj\n", "last header line is a field name"),
    "ends-mid-line": (b"From: a@example.com\nSubject: Refund for ord", "ends inside a line"),
    "ends-mid-line-crlf": (b"From: a@example.com\r\nTo: b@example.com\r\nSubje", "ends inside a line"),
}


@pytest.mark.parametrize(("raw", "reason"), list(CUT_OFF.values()), ids=list(CUT_OFF))
def test_mail_cut_off_in_its_headers_is_bad_input(raw: bytes, reason: str) -> None:
    with pytest.raises(BadInputError, match=reason):
        parse_mail(raw, source="s")


@pytest.mark.parametrize(
    "raw",
    [
        b"From: a@example.com\nSubject: hi\n\nbody",
        b"From: a@example.com\nSubject: hi\nno blank line, but a body sentence follows\n",
        b"From: a@example.com\nSubject: header-only mail\n",
    ],
    ids=["normal", "missing-separator-with-body", "headers-only-complete"],
)
def test_complete_mail_is_not_mistaken_for_cut_off(raw: bytes) -> None:
    assert parse_mail(raw, source="s").message.title


# -- WhatsApp: media placeholders, replaced bytes ---------------------------------------------------

PLACEHOLDERS = [
    "<Media omitted>", "<省略影音内容>", "‹省略影音内容>", "<省略影音內容>", "<影音內容已略去>",
    "<已省略多媒體檔案>", "<附件：IMG-20240304-WA0001.jpg>", "<attached: 00000012-PHOTO-2024-03-04.jpg>",
    "image omitted", "video omitted", "sticker omitted", "圖片已略去", "影片已略去", "音訊已略去",
    "IMG-20240304-WA0001.jpg (file attached)", "IMG-20240304-WA0001.jpg (文件附件)",
]


@pytest.mark.parametrize("placeholder", PLACEHOLDERS, ids=range(len(PLACEHOLDERS)))
def test_whatsapp_media_placeholders_are_not_stored_as_text(tmp_path: Path, placeholder: str) -> None:
    (tmp_path / "WhatsApp Chat with A.txt").write_text(
        f"04/03/24, 10:00 - A: {placeholder}\n04/03/24, 10:01 - A: 真的文字 <Media omitted> 在中间\n",
        encoding="utf-8",
    )
    messages, _ = everything(chats(tmp_path))
    assert [m.text for m in messages] == ["", "真的文字 <Media omitted> 在中间"]


def test_a_whatsapp_message_with_an_impossible_date_keeps_its_neighbours_in_order(tmp_path: Path) -> None:
    (tmp_path / "WhatsApp Chat with A.txt").write_text(
        "28/02/24, 10:00 - A: 前一条\n31/02/24, 10:01 - A: 日期不可能\n续行\n01/03/24, 10:02 - A: 后一条\n",
        encoding="utf-8",
    )
    messages, quarantined = everything(chats(tmp_path))
    assert quarantined == []
    assert [(m.text, m.flags) for m in messages] == [
        ("前一条", ()), ("日期不可能\n续行", ("time-unparsed",)), ("后一条", ()),
    ]
    assert [m.created_at.day for m in (messages[0], messages[2])] == [28, 1], "dd/mm order still read"


def test_invalid_bytes_in_a_whatsapp_export_are_flagged(tmp_path: Path) -> None:
    (tmp_path / "WhatsApp Chat with A.txt").write_bytes(
        "04/03/24, 10:00 - A: 好的\n04/03/24, 10:01 - A: 坏".encode() + b"\xff\xfe" + "字\n续行\n".encode()
        + "04/03/24, 10:02 - A: 又好了\n".encode()
    )
    messages, _ = everything(chats(tmp_path))
    assert [(m.text, m.flags) for m in messages] == [
        ("好的", ()),
        ("坏\ufffd\ufffd字\n续行", ("invalid-bytes-replaced",)),
        ("又好了", ()),
    ]


# -- flags are stored ------------------------------------------------------------------------------


def test_message_flags_are_stored_with_the_message(sqlite_db: Database) -> None:
    import dataclasses

    flagged = dataclasses.replace(message("a"), flags=("time-unparsed", "invalid-bytes-replaced"))
    process_batch(context(sqlite_db, KeywordStub({}), []), "src", "files", Batch((flagged, message("b")), {}))
    with sqlite_db.read() as session:
        rows = {m.external_id: m.flags for m in session.scalars(select(StoredMessage))}
    assert rows == {"a": "time-unparsed,invalid-bytes-replaced", "b": ""}


# -- attachment sizes --------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 2, 3, 1000, 57 * 1000 + 1], ids=lambda n: f"{n}B")
def test_attachment_size_is_read_from_the_encoded_part(size: int) -> None:
    msg = EmailMessage()
    msg["From"], msg["Subject"] = "a@example.com", "附件"
    msg.set_content("见附件")
    msg.add_attachment(os.urandom(size), maintype="application", subtype="octet-stream", filename="x.bin")
    msg.add_attachment("纯文本附件".encode() * 3, maintype="text", subtype="csv", filename="y.csv")
    parsed = parse_mail(msg.as_bytes(), source="s")
    assert [a.size for a in parsed.attachments] == [size, len("纯文本附件".encode() * 3)]
    assert base64  # the base64 part is measured without decoding it (see bench/mail_attachments.py)


def test_maildir_mtime_is_read_once(tmp_path: Path) -> None:
    for sub in ("new", "cur"):
        (tmp_path / sub).mkdir()
    (tmp_path / "new" / "1.M1P1.x").write_bytes(b"From: a@example.com\nSubject: hi\n\nbody\n")
    old = time.time() - 86400
    os.utime(tmp_path / "new" / "1.M1P1.x", (old, old))
    (msg,), _, _ = drain(MaildirConnector("m", MaildirConfig(path=tmp_path)), None)
    assert abs(msg.created_at.timestamp() - old) < 2, "no Date header: the delivery time stands in"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("result.json", json.dumps({"name": "g", "id": 1, "messages": [
            {"id": 1, "type": "message", "date_unixtime": "100000000000000000000", "from": "A", "text": "时间坏了"}]},
            ensure_ascii=False)),
        ("A_utf8.csv", "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,"
                       "NickName,Sender\n1,wx,1,0,0,99999999999999999999,2,时间坏了,,A,A,wx\n"),
        ("log.jsonl", '{"msg": "时间坏了", "at": "someday"}\n'),
        ("support/2024-03-04.json", '[{"type": "message", "user": "U1", "text": "时间坏了", "ts": "1e30"}]'),
        ("WhatsApp Chat with A.txt", "31/02/24, 10:00 - A: 时间坏了\n"),
        ("WhatsApp Chat with B.txt", "04/03/24, 25:00 - B: 时间坏了\n"),
    ],
    ids=["telegram", "wechat-csv", "generic", "slack", "whatsapp-date", "whatsapp-clock"],
)
def test_chat_messages_with_unreadable_times_are_kept_and_flagged(tmp_path: Path, name: str, content: str) -> None:
    if name.startswith("support/"):
        (tmp_path / "channels.json").write_text('[{"id": "C1", "name": "support"}]', encoding="utf-8")
        (tmp_path / "users.json").write_text("[]", encoding="utf-8")
        (tmp_path / "support").mkdir()
    (tmp_path / name).write_text(content, encoding="utf-8")
    mapping = {"text": "msg", "created_at": "at"} if name.endswith(".jsonl") else None
    before = time.time()
    messages, quarantined = everything(chats(tmp_path, mapping=mapping))
    assert quarantined == []
    (msg,) = messages
    assert (msg.text, msg.flags) == ("时间坏了", ("time-unparsed",))
    assert msg.created_at.timestamp() >= before - 1


@pytest.mark.parametrize("size", [300_000, 1_000_003, 3_000_001], ids=lambda n: f"{n}B")
def test_large_attachments_are_measured_without_parsing_their_data(size: int) -> None:
    """Long base64 runs are elided before the MIME parser (connectors.mail.elide); sizes stay exact,
    and a huge base64 HTML body is still decoded to its text."""
    html = "<html><body><p>我要退款，订单一直没到。</p>" + "<p>填充 filler</p>" * (size // 40) + "</body></html>"
    msg = EmailMessage()
    msg["From"], msg["Subject"] = "a@example.com", "大邮件"
    msg.set_content("纯文本部分：请处理退款")
    msg.add_alternative(html, subtype="html", cte="base64")
    payload = os.urandom(size)
    msg.add_attachment(payload, maintype="image", subtype="jpeg", filename="photo.jpg")
    msg.add_attachment(payload[: size // 3], maintype="application", subtype="pdf", filename="scan.pdf")
    parsed = parse_mail(msg.as_bytes(), source="s")
    assert [(a.name, a.size) for a in parsed.attachments] == [("photo.jpg", size), ("scan.pdf", size // 3)]
    assert parsed.message.text == "纯文本部分：请处理退款"
    assert parsed.message.html is not None and "我要退款，订单一直没到。" in parsed.message.html
    assert parsed.message.html.endswith("</body></html>\n")
