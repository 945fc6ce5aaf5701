"""Every e-mail sample in ../shared/data/email parses or is refused with a reason; none crashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.mail.parse import parse_mail
from monitor.errors import BadInputError
from tests.connectors.mail.mailgen import DATA

SAMPLES = sorted(p for p in (DATA / "email").rglob("*") if p.is_file())


def _id(path: Path) -> str:
    return str(path.relative_to(DATA / "email"))


def test_the_samples_are_there() -> None:
    assert len(SAMPLES) == 87


@pytest.mark.parametrize("path", SAMPLES, ids=_id)
def test_sample_parses_or_quarantines_with_a_reason(path: Path) -> None:
    try:
        parsed = parse_mail(path.read_bytes(), source="samples", raw_ref=_id(path))
    except BadInputError as exc:
        assert str(exc).strip()
        return
    message = parsed.message
    assert message.source == "samples" and message.thread_key and message.created_at.tzinfo
    assert message.text or message.title
    assert "\x00" not in message.text


# Expected results on the samples that matter most for Chinese support mail.
EXPECTED = [
    ("mail-parser/mail_test_12", "title", "代开各地增值税发票"),  # GB2312 label, UTF-8 body
    ("mail-parser/mail_test_12", "author", "张先生"),
    ("spamassassin/nice/cjk/gb2312.2", "title", "RE: 装硬碟问题"),
    ("spamassassin/nice/cjk/gb2312.2", "text", "假设你的硬碟是IDE介面"),
    ("webklex-php-imap/gbk_charset.eml", "text", "Hi"),  # x-gbk label
    ("letters/test_chinese_plaintext_gbk_over_base64.txt", "title", "📧 Test 施氏食狮史"),
    ("letters/test_chinese_plaintext_gbk_over_base64.txt", "text", "石室诗士施氏，嗜狮，誓食十狮。"),
    ("letters/test_chinese_multipart_mixed_gbk_over_quoted-printable.txt", "author", "艾莉絲 发件人"),
    # Big5 spam whose subject went through a Latin-1 -> UTF-8 gateway: repaired
    ("mikel-mail/error_emails/content_transfer_encoding_empty.eml", "title", "大家說英語 每日聽MP3"),
    ("mikel-mail/multi_charset/japanese_iso_2022.eml", "text", "すみません。"),
    ("mikel-mail/multi_charset/ks_c_5601-1987.eml", "text", "스티해"),
    ("flanker/from-encoding.eml", "author", "Ingo Lütkebohle"),  # raw 8-bit Latin-1 header
    ("mail-parser/mail_test_18", "author", "LastßlName, FirstName"),
    ("enmime/parser-raw-content-text-option.raw", "text", "添付ファイル名テスト"),
]


@pytest.mark.parametrize(("name", "field", "expected"), EXPECTED, ids=[f"{n}:{f}" for n, f, _ in EXPECTED])
def test_chinese_and_broken_samples_decode(name: str, field: str, expected: str) -> None:
    message = parse_mail((DATA / "email" / name).read_bytes(), source="s").message
    value = {"title": message.title, "text": message.text, "author": message.author.display_name}[field]
    assert expected in value


NOISE = [
    ("cpython/msg_16.txt", "bounce"),
    ("flanker/bounce/office365.eml", "bounce"),
    ("flanker/bounce/gmail-invalid-address.eml", "bounce"),
    ("flanker/disposition-notification.eml", "report"),
    ("flanker/complaints/aol.eml", "report"),
    ("mail-parser/mail_test_13", "list"),
    ("spamassassin/nice/cjk/gb2312.2", "list"),
    ("cpython/msg_01.txt", ""),
    ("letters/test_chinese_plaintext_gbk_over_base64.txt", ""),
    ("mail-parser/mail_test_12", ""),
]


@pytest.mark.parametrize(("name", "noise"), NOISE, ids=[n for n, _ in NOISE])
def test_machine_mail_is_labelled(name: str, noise: str) -> None:
    assert parse_mail((DATA / "email" / name).read_bytes(), source="s").noise == noise


def test_attachments_are_listed_not_kept() -> None:
    parsed = parse_mail((DATA / "email" / "cpython" / "msg_07.txt").read_bytes(), source="s")
    assert [(a.name, a.content_type) for a in parsed.attachments] == [("dingusfish.gif", "image/gif")]
    assert parsed.attachments[0].size > 1000
    assert "R0lGODdh" not in parsed.message.text


@pytest.mark.parametrize(
    ("name", "reason"),
    [("cpython/msg_18.txt", "no text"), ("cpython/msg_19.txt", "no e-mail headers")],
    ids=["headers-only", "no-headers"],
)
def test_unusable_samples_are_refused_with_the_reason(name: str, reason: str) -> None:
    with pytest.raises(BadInputError, match=reason):
        parse_mail((DATA / "email" / name).read_bytes(), source="s")
