"""Turn raw RFC 5322 bytes into a :class:`~monitor.message.Message`.

Threading: the first id of ``References`` (the thread root), else ``In-Reply-To``, else the
message's own ``Message-ID``; so a customer's follow-up lands on the existing ticket.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import hashlib
from datetime import UTC, datetime
from email.message import EmailMessage, Message as StdMessage

from connectors.mail.html import html_to_text
from monitor.errors import BadInputError
from monitor.message import Author, Message

_FALLBACK_CHARSETS = ("utf-8", "gb18030", "big5hkscs")


def _decode_part(part: StdMessage) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = (part.get_content_charset() or "").lower()
    if charset in {"gb2312", "gbk", "x-gbk", "gb_2312-80"}:
        charset = "gb18030"  # GB2312/GBK labels are routinely wrong; GB18030 is a superset
    for candidate in ([charset] if charset else []) + list(_FALLBACK_CHARSETS):
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("utf-8", errors="replace")


def _body(msg: EmailMessage) -> tuple[str, str | None]:
    plain: str | None = None
    html: str | None = None
    for part in msg.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain" and plain is None:
            plain = _decode_part(part)
        elif ctype == "text/html" and html is None:
            html = _decode_part(part)
    if plain is not None and plain.strip():
        return plain.strip(), html
    return (html_to_text(html) if html else ""), html


def _header(msg: EmailMessage, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # noqa: BLE001 - malformed headers raise many error types; treat as absent
        return ""
    return str(value).strip() if value is not None else ""


def _ids(value: str) -> list[str]:
    return [f"<{part.split('>')[0]}>" for part in value.split("<")[1:] if part.split(">")[0]]


def thread_key_of(msg: EmailMessage, fallback: str) -> str:
    """The id of the thread root this message belongs to."""
    references = _ids(_header(msg, "References"))
    if references:
        return references[0]
    reply_to = _ids(_header(msg, "In-Reply-To"))
    if reply_to:
        return reply_to[0]
    own = _ids(_header(msg, "Message-ID"))
    return own[0] if own else fallback


def _date(msg: EmailMessage, default: datetime) -> datetime:
    raw = _header(msg, "Date")
    try:
        parsed = email.utils.parsedate_to_datetime(raw) if raw else None
    except (TypeError, ValueError, IndexError):
        parsed = None
    if parsed is None:
        return default
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_email(
    raw: bytes,
    *,
    source: str,
    channel: str = "email",
    external_id: str | None = None,
    raw_ref: str = "",
    received_at: datetime | None = None,
) -> Message:
    """Parse one e-mail; raises :class:`BadInputError` when it is not a usable message."""
    if not raw.strip():
        raise BadInputError("empty message")
    if b"\x00" in raw[:4096]:
        raise BadInputError("binary data (NUL bytes) where an e-mail was expected")
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as exc:  # noqa: BLE001 - the stdlib parser raises arbitrary errors on junk
        raise BadInputError(f"unparseable MIME: {exc}") from exc
    assert isinstance(msg, EmailMessage)
    if not msg.keys():
        raise BadInputError("no e-mail headers found")
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    text, html = _body(msg)
    subject = _header(msg, "Subject")
    name, address = email.utils.parseaddr(_header(msg, "From"))
    return Message(
        source=source,
        external_id=external_id or digest,
        thread_key=thread_key_of(msg, digest),
        text=text or subject,
        html=html,
        title=subject,
        created_at=_date(msg, received_at or datetime.now(UTC)),
        channel=channel,
        author=Author(id=address.lower(), display_name=name or address),
        raw_ref=raw_ref,
    )
