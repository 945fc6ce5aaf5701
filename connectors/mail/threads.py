"""Thread keys: which conversation (and so which ticket) a mail belongs to.

Order of evidence:

1. the first id in ``References`` (the thread root, RFC 5322 §3.6.4);
2. ``In-Reply-To``;
3. a reply or forward without those headers (webmail, phones): the normalised subject plus the
   sender's address, ``subject:<sha1>``;
4. the message's own ``Message-ID`` (a new conversation);
5. the fallback the caller gives (a digest of the raw bytes).
"""

from __future__ import annotations

import hashlib
import re

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


def normalize_subject(subject: str) -> tuple[str, bool]:
    """The subject without reply/forward prefixes and list tags; and whether any were removed."""
    text = subject.strip()
    changed = False
    while True:
        stripped = _TAG.sub("", _PREFIX.sub("", text), count=1)
        stripped = _PREFIX.sub("", stripped)
        if stripped == text:
            break
        text, changed = stripped, True
    return _SPACE.sub(" ", text).strip().casefold(), changed


def message_ids(value: str) -> list[str]:
    """The ``<id>`` tokens of a Message-ID / In-Reply-To / References value, in order."""
    return [f"<{found}>" for found in _MSGID.findall(value)]


def thread_key(
    *,
    message_id: str,
    in_reply_to: str,
    references: str,
    subject: str,
    sender: str,
    fallback: str,
) -> str:
    """The thread key from decoded header values (see the module docstring for the order)."""
    refs = message_ids(references)
    if refs:
        return refs[0]
    parents = message_ids(in_reply_to)
    if parents:
        return parents[0]
    normalized, is_reply = normalize_subject(subject)
    if is_reply and normalized:
        digest = hashlib.sha1(f"{normalized}\n{sender.lower()}".encode(), usedforsecurity=False)
        return "subject:" + digest.hexdigest()
    own = message_ids(message_id)
    return own[0] if own else fallback
