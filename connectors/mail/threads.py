"""Threading evidence of a mail: its thread key, its own id, the ids it answers, its topic.

The thread key (which conversation a mail starts or continues, when nothing is stored yet):

1. the first id in ``References`` (the thread root, RFC 5322 §3.6.4);
2. ``In-Reply-To``;
3. the message's own ``Message-ID`` (a new conversation);
4. the fallback the caller gives (a digest of the raw bytes).

Besides the key, the ticket stage gets the evidence to find the stored conversation: the mail's
own ``Message-ID`` (``ref_id``), every id it answers, nearest first (``In-Reply-To``, then
``References`` from the end: a reply joins the ticket of *any* stored message it names), a ticket
code in the subject (``[Q000123]``, put there by mail yuqing sends) and the normalised subject
(``topic``): a reply with only "Re:"/"回复：" joins the same sender's conversation with that
subject within a window.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# Reply / forward markers in English, simplified and traditional Chinese, and a few common others,
# optionally followed by a counter ("Re[2]:", "Re^3:") and with ASCII or full-width colons.
_PREFIX = re.compile(
    r"^\s*(?:"
    r"re|fw|fwd|aw|sv|vs|antw|wg|tr|rif|r"
    r"|回复|回覆|答复|答覆|回應|转发|轉發|转寄|轉寄|转|轉|回"
    r")\s*(?:\[\d+\]|\^\d+|\(\d+\))?\s*[:：]\s*",
    re.IGNORECASE,
)
_TAG = re.compile(r"^\s*\[[^\]]{1,40}\]\s*")  # mailing-list tags: "[support] Re: ..."
_SPACE = re.compile(r"\s+")
_MSGID = re.compile(r"<([^<>\s]+)>")
# A ticket code in a subject, as ``monitor.tickets.service.ticket_subject`` writes it.
_CODE = re.compile(r"\[(Q\d{6,12})\]")


def normalize_subject(subject: str) -> tuple[str, bool]:
    """The subject without reply/forward prefixes and list tags; and whether a prefix was removed
    (a list tag or ticket code alone does not make a mail a reply)."""
    text = subject.strip()
    prefixed = False
    while True:
        unprefixed = _PREFIX.sub("", text)
        stripped = _PREFIX.sub("", _TAG.sub("", unprefixed, count=1))
        prefixed = prefixed or unprefixed != text or stripped != _TAG.sub("", unprefixed, count=1)
        if stripped == text:
            break
        text = stripped
    return _SPACE.sub(" ", text).strip().casefold(), prefixed


def message_ids(value: str) -> list[str]:
    """The ``<id>`` tokens of a Message-ID / In-Reply-To / References value, in order."""
    return [f"<{found}>" for found in _MSGID.findall(value)]


@dataclass(frozen=True, slots=True)
class MailThread:
    """What a mail's headers say about its conversation (see the module docstring)."""

    key: str
    ref_id: str
    refs: tuple[str, ...]
    topic: str
    is_reply: bool
    ticket_code: str


def subject_topic(normalized: str) -> str:
    """The stored topic of a normalised subject: a digest (fits an index; subjects are long)."""
    return "subject:" + hashlib.sha1(normalized.encode(), usedforsecurity=False).hexdigest()


def mail_thread(*, message_id: str, in_reply_to: str, references: str, subject: str, fallback: str) -> MailThread:
    """The threading evidence from decoded header values."""
    own = message_ids(message_id)
    ref_id = own[0] if own else ""
    chain = message_ids(references)
    parents = message_ids(in_reply_to)
    refs = tuple(dict.fromkeys(r for r in [*parents, *reversed(chain)] if r != ref_id))
    normalized, prefixed = normalize_subject(subject)
    code = _CODE.search(subject)
    return MailThread(
        key=(chain or parents or own or [fallback])[0],
        ref_id=ref_id,
        refs=refs,
        topic=subject_topic(normalized) if normalized else "",
        is_reply=prefixed or bool(refs),
        ticket_code=code.group(1) if code else "",
    )
