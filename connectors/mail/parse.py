"""Turn raw RFC 5322 bytes into a :class:`~monitor.message.Message` (and what else a mail holds).

The stdlib parser with the ``compat32`` policy does the MIME structure (it is several times faster
than ``policy.default`` and never raises on bad headers); decoding is ours, because real mail needs
more tolerance than the stdlib has: see :mod:`connectors.mail.charsets` (bodies) and
:mod:`connectors.mail.headers` (RFC 2047, raw 8-bit headers). Quoted replies and signatures are
split off (:mod:`connectors.mail.quotes`), attachments listed but not kept, machine mail labelled
(:mod:`connectors.mail.noise`), and the thread key found (:mod:`connectors.mail.threads`).

Broken MIME is parsed as far as it goes; only mail with nothing usable raises
:class:`~monitor.errors.BadInputError`, which the connectors turn into a quarantine row.
"""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message as StdMessage

from connectors.mail.charsets import decode_text
from connectors.mail.headers import decode_header
from connectors.mail.html import html_to_text
from connectors.mail.noise import classify
from connectors.mail.quotes import split_reply
from connectors.mail.threads import mail_thread
from monitor.errors import BadInputError
from monitor.message import Author, Message

_PARSER = email.parser.BytesParser(policy=email.policy.compat32)
_VALID_FIELD = re.compile(rb"^([\x21-\x39\x3b-\x7e]+:|[ \t]|From )")
_BAD_NAME = re.compile(rb"^([^:\r\n]+):")


@dataclass(frozen=True, slots=True)
class Attachment:
    """An attachment as listed (never stored): file name, MIME type and decoded size in bytes."""

    name: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """Everything the parser learned about one mail; ``message`` is what the pipeline stores."""

    message: Message
    message_id: str
    noise: str
    quoted: str
    signature: str
    attachments: tuple[Attachment, ...]
    defects: tuple[str, ...]


def _repair_header_names(raw: bytes) -> bytes:
    """Make header lines with illegal field names (spaces, tabs) parseable instead of ending headers."""
    end = re.search(rb"\r?\n\r?\n", raw)
    head = raw[: end.start()] if end else raw
    if all(_VALID_FIELD.match(line) for line in head.splitlines()[1:] if line):
        return raw
    lines = head.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if index and line.strip() and not _VALID_FIELD.match(line):
            lines[index] = _BAD_NAME.sub(lambda m: re.sub(rb"[\s]", b"_", m.group(1)) + b":", line, 1)
    return b"".join(lines) + (raw[end.start() :] if end else b"")


def _text_of(part: StdMessage) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        payload = str(part.get_payload()).encode("utf-8", "surrogateescape")
    return decode_text(payload, part.get_content_charset())


def _walk(msg: StdMessage) -> tuple[list[str], list[str], list[Attachment], str | None]:
    plains: list[str] = []
    htmls: list[str] = []
    attachments: list[Attachment] = []
    charset: str | None = None
    for part in msg.walk():
        if part.is_multipart():
            if isinstance(part.get_payload(), str):  # multipart without a usable boundary
                plains.append(_text_of(part))
            continue
        ctype = part.get_content_type()
        filename = part.get_filename()
        disposition = part.get_content_disposition()
        if ctype.startswith("text/") and disposition != "attachment" and not filename:
            charset = charset or part.get_content_charset()
            if ctype == "text/html":
                htmls.append(_text_of(part))
            elif ctype in {"text/plain", "text/enriched"} or not htmls:
                plains.append(_text_of(part))
            continue
        if ctype.startswith("message/") or ctype.startswith("multipart/"):
            continue
        payload = part.get_payload(decode=True)
        attachments.append(
            Attachment(
                name=decode_header(filename, hint=charset) if filename else "",
                content_type=ctype,
                size=len(payload) if isinstance(payload, bytes) else 0,
            )
        )
    return plains, htmls, attachments, charset


def _report_type(msg: StdMessage) -> str:
    value = msg.get_param("report-type")
    return value.lower() if isinstance(value, str) else ""


def _date(value: str | None, default: datetime) -> datetime:
    try:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError, IndexError):
        parsed = None
    if parsed is None:
        return default
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _author(raw_from: str | None, hint: str | None) -> Author:
    if not raw_from:
        return Author()
    pairs = email.utils.getaddresses([raw_from.replace("\n", " ").replace("\r", " ")])
    name, address = pairs[0] if pairs else ("", "")
    if not address or "@" not in address:
        decoded = decode_header(raw_from, hint=hint)
        name, address = email.utils.parseaddr(decoded)
    name = decode_header(name, hint=hint)
    address = decode_header(address, hint=hint).strip().lower()
    return Author(id=address, display_name=name or address)


def parse_mail(
    raw: bytes,
    *,
    source: str,
    channel: str = "email",
    external_id: str | None = None,
    raw_ref: str = "",
    received_at: datetime | None = None,
) -> ParsedMail:
    """Parse one e-mail; raises :class:`BadInputError` when nothing usable can be read from it."""
    if not raw.strip():
        raise BadInputError("empty message")
    if b"\x00" in raw[:4096]:
        raise BadInputError("binary data (NUL bytes) where an e-mail was expected")
    try:
        msg = _PARSER.parsebytes(_repair_header_names(raw))
        plains, htmls, attachments, charset = _walk(msg)
    except Exception as exc:  # the stdlib parser raises arbitrary error types on junk input
        raise BadInputError(f"unparseable MIME: {type(exc).__name__}: {exc}") from exc
    if not msg.keys():
        raise BadInputError("no e-mail headers found")
    defects = tuple(sorted({type(d).__name__ for p in msg.walk() for d in p.defects}))

    # raw_items() gives the undecoded values (8-bit bytes as surrogate escapes); get() would wrap
    # those in email.header.Header objects. First occurrence wins.
    raw_headers = {name.lower(): value for name, value in reversed(list(msg.raw_items()))}

    def header(name: str) -> str:
        value = raw_headers.get(name.lower())
        return decode_header(value, hint=charset) if value is not None else ""

    html = "\n\n".join(htmls) if htmls else None
    body = "\n\n".join(p for p in plains if p.strip()).strip()
    if not body and html:
        body = html_to_text(html)
    subject = header("Subject")
    if not body and not subject:
        reason = f"no text in message (defects: {', '.join(defects)})" if defects else "no text in message"
        raise BadInputError(reason)
    split = split_reply(body)
    author = _author(raw_headers.get("from"), charset)
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    message_id = header("Message-ID")
    thread = mail_thread(
        message_id=message_id,
        in_reply_to=header("In-Reply-To"),
        references=header("References"),
        subject=subject,
        fallback=digest,
    )
    message = Message(
        source=source,
        external_id=external_id or digest,
        thread_key=thread.key,
        text=split.new or body or subject,
        html=html,
        title=subject,
        created_at=_date(header("Date"), received_at or datetime.now(UTC)),
        channel=channel,
        author=author,
        raw_ref=raw_ref,
        noise=classify(header, msg.get_content_type(), _report_type(msg)),
        ref_id=thread.ref_id,
        refs=thread.refs,
        topic=thread.topic,
        is_reply=thread.is_reply,
        ticket_code=thread.ticket_code,
    )
    return ParsedMail(
        message=message,
        message_id=message_id,
        noise=message.noise,
        quoted=split.quoted,
        signature=split.signature,
        attachments=tuple(attachments),
        defects=defects,
    )


def parse_email(
    raw: bytes,
    *,
    source: str,
    channel: str = "email",
    external_id: str | None = None,
    raw_ref: str = "",
    received_at: datetime | None = None,
) -> Message:
    """Parse one e-mail to a Message; raises :class:`BadInputError` when it is not usable."""
    return parse_mail(
        raw,
        source=source,
        channel=channel,
        external_id=external_id,
        raw_ref=raw_ref,
        received_at=received_at,
    ).message
