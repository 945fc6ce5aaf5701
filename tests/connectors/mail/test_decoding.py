"""Charset labels, RFC 2047 (also broken), raw 8-bit headers, quotes/signatures, threads, noise."""

from __future__ import annotations

import pytest

from connectors.mail.charsets import codec_for, decode_text
from connectors.mail.headers import decode_header
from connectors.mail.identity import header_block, mail_identity
from connectors.mail.parse import parse_mail
from connectors.mail.quotes import split_reply
from connectors.mail.threads import normalize_subject

TEXT = "您好，退款三天了还没到账，請儘快處理"

CHARSETS = [
    ("gb2312", "gbk", "繁體字在GB2312標籤裏"),  # label lies: content is GBK
    ("GB_2312-80", "gb18030", "𠀀 扩展B区字符"),
    ("x-gbk", "gbk", TEXT),
    ("cp936", "gbk", TEXT),
    ("big5", "big5hkscs", "香港增補字符集：嘅咗"),
    ("gb2312", "utf-8", TEXT),  # UTF-8 labelled GB2312
    (None, "gbk", "没有标签的简体中文内容，客户投诉"),
    (None, "big5", "沒有標籤的繁體中文內容，客戶投訴"),
    ("unknown-8bit", "gb18030", "未知标签的简体中文"),
    ("iso-8859-1", "cp1252", "Café “quoted”"),
]


@pytest.mark.parametrize(("label", "codec", "text"), CHARSETS, ids=[f"{c[0]}-{c[1]}" for c in CHARSETS])
def test_decode_text_survives_wrong_or_missing_labels(label: str | None, codec: str, text: str) -> None:
    assert decode_text(text.encode(codec), label) == text


def test_codec_for_maps_labels_to_supersets() -> None:
    assert [codec_for(x) for x in ("GB2312", "gbk", "x-gbk", "Big5", "ks_c_5601-1987", "utf-8*zh", "bogus")] == [
        "gb18030", "gb18030", "gb18030", "big5hkscs", "cp949", "utf-8", None,
    ]


HEADERS = [
    ("=?gb2312?B?tqm1pc7KzOI=?=", "订单问题"),
    ("=?GBK?Q?=B6=A9=B5=A5?= =?GBK?Q?=CE=CA=CC=E2?=", "订单问题"),  # adjacent words: space dropped
    ("=?utf-8?B?6K6i5Y2V?=\r\n =?utf-8?B?6Zeu6aKY?=", "订单问题"),  # folded
    ("=?utf-8?B?6K6i5Y2V6Zeu?= =?utf-8?B?6aKY?=", "订单问题"),  # multibyte char split across words
    ("=?utf-8?B?6K6i5Y2V6Zeu6aKY?=", "订单问题"),
    ("=?utf-8?B?6K6i5Y2V6Zeu6aKY?=x", "订单问题x"),  # glued to text
    ("Re:=?utf-8?B?6K6i5Y2V6Zeu6aKY?=", "Re:订单问题"),
    ("=?utf-8?B?6K6i5Y2V6Zeu6aK?=", "订单问\ufffd"),  # truncated: replacement, no crash
    ("=?gb2312?B?tqm1pc7KzOI?=", "订单问题"),  # missing padding
    ("=?x-gbk?B?tqm1pc7KzOI=?=", "订单问题"),
    ("=?big5?B?rXGz5rDdw0Q=?=", "訂單問題"),
    ("=?utf-8*zh-cn?Q?=E8=AE=A2=E5=8D=95?=", "订单"),  # RFC 2231 language tag
    ("\"=?gbk?B?1cXI/Q==?=\" <zhang@example.com>", "\"张三\" <zhang@example.com>"),  # inside quotes
    ("=?unknown?B?tqm1pc7KzOI=?=", "订单问题"),  # unknown label: guessed
    ("plain ascii", "plain ascii"),
]


@pytest.mark.parametrize(("raw", "expected"), HEADERS, ids=range(len(HEADERS)))
def test_rfc2047_including_broken_forms(raw: str, expected: str) -> None:
    assert decode_header(raw) == expected


@pytest.mark.parametrize(
    ("raw", "hint", "expected"),
    [
        ("订单问题".encode("gbk"), "gb2312", "订单问题"),
        ("訂單問題".encode("big5"), "big5", "訂單問題"),
        ("订单问题".encode(), None, "订单问题"),
        ("Lütkebohle".encode("latin-1"), None, "Lütkebohle"),
    ],
    ids=["gbk-hint", "big5-hint", "utf8", "latin1"],
)
def test_raw_8bit_headers(raw: bytes, hint: str | None, expected: str) -> None:
    assert decode_header(raw.decode("ascii", "surrogateescape"), hint=hint) == expected


SPLITS = [
    ("谢谢，问题已解决。\n\n在 2024年5月1日 10:00，客服 <s@x.com> 写道：\n> 请提供订单号\n",
     "谢谢，问题已解决。", "请提供订单号", ""),
    ("Still broken.\n\nOn Mon, 1 May 2024 at 10:00, Support <s@x.com> wrote:\n> Try again\n",
     "Still broken.", "Try again", ""),
    ("还是没收到货\n\n------------------ 原始邮件 ------------------\n发件人: 客服\n发送时间: 2024年5月1日\n请耐心等待",
     "还是没收到货", "请耐心等待", ""),
    ("退款呢？\n\n-----Original Message-----\nFrom: support\nSent: Monday\nWe refunded.", "退款呢？", "We refunded.", ""),
    ("换货申请\n发件人: 张三\n收件人: 客服\n主题: 旧邮件\n旧内容", "换货申请", "旧内容", ""),
    ("东西坏了\n\n发自我的iPhone", "东西坏了", "", "发自我的iPhone"),
    ("Item broken\n\n-- \nJohn Smith\nACME Corp", "Item broken", "", "John Smith"),
    ("> 只有引用\n> 没有新内容", "", "只有引用", ""),
]


@pytest.mark.parametrize(("body", "new", "quoted", "signature"), SPLITS, ids=range(len(SPLITS)))
def test_quotes_and_signatures_are_split_off(body: str, new: str, quoted: str, signature: str) -> None:
    split = split_reply(body)
    assert split.new == new
    assert quoted in split.quoted
    assert signature in split.signature


@pytest.mark.parametrize(
    ("subject", "normalized", "is_reply"),
    [
        ("Re: 订单问题", "订单问题", True),
        ("回复：订单问题", "订单问题", True),
        ("答复: Re: 回覆：订单问题", "订单问题", True),
        ("轉寄: 訂單問題", "訂單問題", True),
        ("Fwd: [support] RE[2]: Order", "order", True),
        ("订单问题", "订单问题", False),
        ("Return policy", "return policy", False),
    ],
)
def test_subject_normalization(subject: str, normalized: str, is_reply: bool) -> None:
    assert normalize_subject(subject) == (normalized, is_reply)


def _mail(headers: str, body: str = "内容") -> bytes:
    return (headers.strip() + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body).encode()


def test_thread_evidence_from_references_reply_to_subject_and_own_id() -> None:
    root = parse_mail(_mail("From: a@x.com\r\nSubject: 订单问题\r\nMessage-ID: <root@x>"), source="s").message
    reply = parse_mail(_mail("From: a@x.com\r\nSubject: Re: 订单问题\r\nMessage-ID: <r2@x>\r\n"
                             "In-Reply-To: <r1@x>\r\nReferences: <root@x> <r1@x>"), source="s").message
    parent_only = parse_mail(_mail("From: a@x.com\r\nSubject: Re: x\r\nMessage-ID: <r3@x>\r\n"
                                   "In-Reply-To: <root@x>"), source="s").message
    headerless = [
        parse_mail(_mail(f"From: A <A@x.com>\r\nSubject: {prefix}订单问题\r\nMessage-ID: <h{i}@x>"), source="s")
        for i, prefix in enumerate(["回复：", "Re: 答复: "])
    ]
    assert root.thread_key == reply.thread_key == parent_only.thread_key == "<root@x>"
    assert (root.ref_id, root.refs, root.is_reply) == ("<root@x>", (), False)
    assert (reply.ref_id, reply.refs, reply.is_reply) == ("<r2@x>", ("<r1@x>", "<root@x>"), True)
    # subject-only replies keep their own key; the ticket stage joins them by topic and sender
    assert [h.message.thread_key for h in headerless] == ["<h0@x>", "<h1@x>"]
    assert all(h.message.is_reply and not h.message.refs for h in headerless)
    assert headerless[0].message.topic == headerless[1].message.topic == root.topic != ""


@pytest.mark.parametrize(
    ("subject", "code"),
    [
        ("[Q000123] 您的反馈", "Q000123"),
        ("Re: [Q000123] 您的反馈", "Q000123"),
        ("回复：Re: [yuqing] [Q004567] 订单", "Q004567"),
        ("Q000123 without brackets", ""),
        ("[Q12] too short", ""),
    ],
    ids=["code", "reply-with-code", "nested-prefixes", "no-brackets", "too-short"],
)
def test_ticket_code_in_subject(subject: str, code: str) -> None:
    message = parse_mail(_mail(f"From: a@x.com\r\nSubject: {subject}\r\nMessage-ID: <c@x>"), source="s").message
    assert message.ticket_code == code


@pytest.mark.parametrize(
    ("headers", "noise"),
    [
        ("Auto-Submitted: auto-replied\r\nSubject: Re: x", "auto-reply"),
        ("Auto-Submitted: no\r\nSubject: x", ""),
        ("X-Autoreply: yes\r\nSubject: x", "auto-reply"),
        ("Subject: 自动回复: 我正在休假", "auto-reply"),
        ("Subject: Automatic reply: out of office", "auto-reply"),
        ("Precedence: bulk\r\nSubject: x", "list"),
        ("List-Id: <support.lists.example.com>\r\nSubject: x", "list"),
        ("From: MAILER-DAEMON@example.com\r\nSubject: Undelivered Mail Returned to Sender", "bounce"),
        ("From: postmaster@example.cn\r\nSubject: 系统退信", "bounce"),
        ("Subject: 我的订单没到", ""),
    ],
)
def test_noise_from_headers(headers: str, noise: str) -> None:
    assert parse_mail(_mail(headers + "\r\nMessage-ID: <n@x>"), source="s").noise == noise


def test_identity_is_the_same_from_full_mail_and_from_header_fields() -> None:
    raw = _mail("From: a@x.com\r\nSubject: s\r\nMessage-ID: <id@x>\r\nDate: Wed, 1 May 2024 08:00:00 +0800")
    fields = b"Message-ID: <id@x>\r\nDate: Wed, 1 May 2024\r\n 08:00:00 +0800\r\n\r\n"  # folded differently
    assert mail_identity(header_block(raw), 100) == mail_identity(fields, 100)
    assert mail_identity(header_block(raw), 100) != mail_identity(header_block(raw), 101)
    no_id = _mail("From: a@x.com\r\nSubject: s\r\nDate: Wed, 1 May 2024 08:00:00 +0800")
    assert mail_identity(header_block(no_id), 100).startswith("hdr:")


def test_parse_email_keeps_its_signature_and_returns_the_new_text() -> None:
    from connectors.mail.parse import parse_email

    message = parse_email(_mail("From: a@x.com\r\nSubject: s", "还是坏的\r\n\r\n> 旧的\r\n"), source="s",
                          external_id="e1", raw_ref="r")
    assert (message.external_id, message.text, message.raw_ref) == ("e1", "还是坏的", "r")
