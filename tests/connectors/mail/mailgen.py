"""Generated Chinese mail with ground truth: the text we meant, and the bytes real clients send.

Each mail picks a charset variant (UTF-8, GB2312 labels on GBK content, GBK, GB18030, ``x-gbk``,
Big5, Big5-HKSCS, UTF-8 mislabelled GB2312), a transfer encoding (base64, quoted-printable, raw
8-bit), plain or HTML-only, and a Subject/From form (clean RFC 2047 B or Q, a multi-byte character
split across two encoded-words, missing base64 padding, encoded-word glued to text, raw 8-bit).
Texts are real customer reviews from ``../shared/data/sentiment/waimai_10k.csv``.
"""

from __future__ import annotations

import base64
import csv
import html
import quopri
from collections.abc import Iterator
from dataclasses import dataclass

from tests.shared_data import SHARED_DATA

DATA = SHARED_DATA

# (label written in the mail, codec used to produce the bytes, traditional script?)
VARIANTS: list[tuple[str, str, bool]] = [
    ("utf-8", "utf-8", False),
    ("UTF-8", "utf-8", True),
    ("gb2312", "gb2312", False),
    ("gb2312", "gbk", True),  # labelled GB2312, holds GBK-only (traditional) characters
    ("GBK", "gbk", False),
    ("gb18030", "gb18030", False),
    ("x-gbk", "gbk", False),
    ("big5", "big5", True),
    ("Big5-HKSCS", "big5hkscs", True),
    ("gb2312", "utf-8", False),  # a misconfigured server labels UTF-8 as GB2312
]
ENCODINGS = ["base64", "quoted-printable", "8bit"]
HEADER_FORMS = ["b", "q", "split", "nopad", "glued", "raw"]


@dataclass(frozen=True, slots=True)
class GeneratedMail:
    raw: bytes
    text: str
    subject: str
    display_name: str
    sender: str
    variant: str


def reviews() -> list[str]:
    with open(DATA / "sentiment" / "waimai_10k.csv", encoding="utf-8", newline="") as handle:
        rows = [row["review"].strip() for row in csv.DictReader(handle)]
    return [r for r in rows if 4 <= len(r) <= 300 and "\n" not in r and not r.startswith((">", "-", "—"))]


def _encoded_words(text: str, label: str, codec: str, form: str) -> str:
    data = text.encode(codec)
    if form == "raw":
        return data.decode("latin-1")  # caller writes latin-1: the bytes go out unchanged
    if form == "q":
        q = "".join(chr(b) if chr(b).isalnum() and b < 128 else f"={b:02X}" for b in data)
        return f"=?{label}?Q?{q}?="
    if form == "split":  # cut in the middle of a multi-byte character
        cut = len(data) // 2 | 1
        first, second = base64.b64encode(data[:cut]).decode(), base64.b64encode(data[cut:]).decode()
        return f"=?{label}?B?{first}?=\r\n =?{label}?B?{second}?="
    encoded = base64.b64encode(data).decode()
    if form == "nopad":
        encoded = encoded.rstrip("=")
    return f"=?{label}?B?{encoded}?="


def _body(text: str, codec: str, cte: str, is_html: bool) -> bytes:
    content = f"<html><body><p>{html.escape(text)}</p></body></html>" if is_html else text
    data = content.encode(codec)
    if cte == "base64":
        encoded = base64.encodebytes(data)
    elif cte == "quoted-printable":
        encoded = quopri.encodestring(data)
    else:
        encoded = data
    return encoded.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def generate(count: int, *, start: int = 0) -> Iterator[GeneratedMail]:
    """``count`` mails cycling through every variant, encoding and header form."""
    import opencc  # the project's own dependency (analysis); used here to make Big5 text

    to_traditional = opencc.OpenCC("s2t")
    texts = reviews()
    made = 0
    index = start
    while made < count:
        label, codec, traditional = VARIANTS[index % len(VARIANTS)]
        cte = ENCODINGS[(index // len(VARIANTS)) % len(ENCODINGS)]
        form = HEADER_FORMS[index % len(HEADER_FORMS)]
        is_html = index % 7 == 3
        text = texts[index % len(texts)]
        if traditional:
            text = to_traditional.convert(text)
        name = to_traditional.convert(f"顾客{index}") if traditional else f"顾客{index}"
        subject = f"{text[:10]} 订单{index}"
        if traditional:
            subject = to_traditional.convert(subject)
        index += 1
        try:
            subject_header = _encoded_words(subject, label, codec, form)
            name_header = _encoded_words(name, label, codec, "b" if form == "glued" else form)
            body = _body(text, codec, cte, is_html)
        except UnicodeEncodeError:
            continue  # this review has characters the legacy charset cannot carry
        if form == "glued":  # no space between plain text and the encoded-word
            subject_header = f"Re:{subject_header}"
            subject = f"Re:{subject}"
        sender = f"customer{index}@example.com"
        header = (
            f"From: {name_header} <{sender}>\r\n"
            "To: support@example.com\r\n"
            f"Subject: {subject_header}\r\n"
            f"Message-ID: <gen{index}.{start}@mailgen.test>\r\n"
            f"Date: Wed, 01 May 2024 08:{index % 60:02d}:00 +0800\r\n"
            "MIME-Version: 1.0\r\n"
            f"Content-Type: text/{'html' if is_html else 'plain'}; charset=\"{label}\"\r\n"
            f"Content-Transfer-Encoding: {cte}\r\n\r\n"
        )
        raw = header.encode("latin-1") + body
        variant = f"{label}/{codec}/{cte}/{form}/{'html' if is_html else 'plain'}"
        yield GeneratedMail(raw, text, subject, name, sender, variant)
        made += 1
