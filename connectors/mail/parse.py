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

from connectors.hygiene import TIME_UNPARSED
from connectors.mail.charsets import decode_text
from connectors.mail.elide import Elided, elide
from connectors.mail.headers import decode_header
from connectors.mail.html import html_to_text
from connectors.mail.noise import classify
from connectors.mail.quotes import split_reply
from connectors.mail.threads import mail_thread
from connectors.timeparse import parse_time
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


_HEADER_LINE = re.compile(rb"^(?:[\x21-\x39\x3b-\x7e]+[ \t]*:|[ \t]|From )")
_NAME_ONLY = re.compile(rb"^[\x21-\x39\x3b-\x7e]+[ \t]*$")


def cut_off_headers(raw: bytes) -> str:
    """Why ``raw`` is a mail cut off inside its header block ("" when it is not).

    A mail with no blank line after its headers is still a mail when a body follows (some mailers
    omit the blank line); it is cut off when it ends without a newline or its last line is a lone
    word after header lines (``Subj``: a field name whose colon and value were cut).
    """
    stripped = raw.lstrip(b"\r\n")
    if re.search(rb"\r?\n\r?\n", stripped):
        return ""
    lines = stripped.splitlines()
    if not lines or not _HEADER_LINE.match(lines[0]):
        return "no e-mail headers found"
    if not stripped.endswith(b"\n"):
        return "mail cut off: the header block ends inside a line"
    if _NAME_ONLY.match(lines[-1]) and all(_HEADER_LINE.match(line) for line in lines[:-1]):
        return "mail cut off: the last header line is a field name without its value"
    return ""


def _text_of(part: StdMessage) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        payload = str(part.get_payload()).encode("utf-8", "surrogateescape")
    return decode_text(payload, part.get_content_charset())


def _walk(msg: StdMessage, elided: Elided) -> tuple[list[str], list[str], list[Attachment], str | None]:
    plains: list[str] = []
    htmls: list[str] = []
    attachments: list[Attachment] = []
    charset: str | None = None
    for part in msg.walk():
        if part.is_multipart():
            if isinstance(part.get_payload(), str):  # multipart without a usable boundary
                elided.restore(part)
                plains.append(_text_of(part))
            continue
        ctype = part.get_content_type()
        filename = part.get_filename()
        disposition = part.get_content_disposition()
        if ctype.startswith("text/") and disposition != "attachment" and not filename:
            elided.restore(part)
            charset = charset or part.get_content_charset()
            if ctype == "text/html":
                htmls.append(_text_of(part))
            elif ctype in {"text/plain", "text/enriched"} or not htmls:
                plains.append(_text_of(part))
            continue
        if ctype.startswith("message/") or ctype.startswith("multipart/"):
            continue
        attachments.append(
            Attachment(
                name=decode_header(filename, hint=charset) if filename else "",
                content_type=ctype,
                size=_size(part, elided),
            )
        )
    return plains, htmls, attachments, charset


def encoded_size(part: StdMessage) -> int:
    """An attachment's decoded size computed from its encoded text, without decoding it.

    Decoding every attachment only to measure it cost a 21 MB mail +204 MB RSS. Base64 carries 3
    bytes per 4 characters (less the ``=`` padding); other encodings are counted as they are.
    """
    payload = part.get_payload()
    if not isinstance(payload, str):
        return 0
    if str(part.get("Content-Transfer-Encoding", "")).strip().lower() != "base64":
        return len(payload)
    chars = len(payload) - sum(payload.count(c) for c in " \t\r\n")
    padding = payload.rstrip().endswith("==") + payload.rstrip().endswith("=")
    return max(0, chars * 3 // 4 - padding)


def _size(part: StdMessage, elided: Elided) -> int:
    size = elided.size(part)
    return size if size is not None else encoded_size(part)


def _report_type(msg: StdMessage) -> str:
    value = msg.get_param("report-type")
    return value.lower() if isinstance(value, str) else ""


def _date(value: str | None, default: datetime) -> tuple[datetime, tuple[str, ...]]:
    """The Date header (RFC 2822, or whatever else a mailer wrote), else ``default``; flagged when
    a Date was there but unreadable or out of bounds (year 1970, next century)."""
    if not value or not value.strip():
        return default, ()
    parsed = parse_time(value, now=datetime.now(UTC), zone=UTC)
    return (parsed, ()) if parsed is not None else (default, (TIME_UNPARSED,))


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
    cut = cut_off_headers(raw)
    if cut:
        raise BadInputError(cut)
    try:
        elided = elide(raw)  # big attachment data never reaches the parser (connectors.mail.elide)
        msg = _PARSER.parsebytes(_repair_header_names(elided.raw))
        plains, htmls, attachments, charset = _walk(msg, elided)
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
    created_at, flags = _date(header("Date"), received_at or datetime.now(UTC))
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
        created_at=created_at,
        channel=channel,
        author=author,
        raw_ref=raw_ref,
        noise=classify(header, msg.get_content_type(), _report_type(msg)),
        ref_id=thread.ref_id,
        refs=thread.refs,
        topic=thread.topic,
        is_reply=thread.is_reply,
        ticket_code=thread.ticket_code,
        flags=flags,
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
