"""Signed, expiring acknowledge/resolve links embedded in alerts (HMAC-SHA256), one per person.

A link carries the incident code, the action, an expiry (unix seconds), the person it was sent to
(an on-call ``people`` id) and a signature over all four; the HTTP endpoint verifies it in
constant time and records that person as the one who acted - not the address the click came
from. A link without a person (no on-call file, or a chat several people share) still works and
is recorded as anonymous. No state is stored for links: rotating the secret invalidates every
link already sent.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ACTIONS = ("ack", "resolve")
FEEDBACK = "satisfaction"  # the page path too: /satisfaction (/feedback is the intake form)
"""The action of a customer's link to the satisfaction/survey page (``code`` is the follow-up's token)."""


class LinkError(ValueError):
    pass


@dataclass(frozen=True)
class LinkSigner:
    secret: bytes
    base_url: str
    ttl: timedelta = timedelta(hours=72)

    def signature(self, code: str, action: str, expires: int, person: str = "") -> str:
        message = f"{code}\n{action}\n{expires}" + (f"\n{person}" if person else "")
        return hmac.new(self.secret, message.encode(), hashlib.sha256).hexdigest()

    def url(self, code: str, action: str, now: datetime, *, person: str = "") -> str:
        expires = int((now + self.ttl).timestamp())
        fields: dict[str, str | int] = {"code": code, "action": action, "exp": expires}
        if person:
            fields["p"] = person
        fields["sig"] = self.signature(code, action, expires, person)
        return f"{self.base_url.rstrip('/')}/{action}?{urlencode(fields)}"

    def verify(
        self,
        code: str,
        action: str,
        expires: str,
        signature: str,
        now: datetime,
        *,
        person: str = "",
        actions: Sequence[str] = ACTIONS,
    ) -> None:
        """Raise LinkError unless the link is authentic (for this person), known and not expired."""
        if action not in actions:
            raise LinkError("unknown action")
        try:
            when = int(expires)
        except ValueError:
            raise LinkError("bad expiry") from None
        if not hmac.compare_digest(self.signature(code, action, when, person), signature):
            raise LinkError("bad signature")
        if now.timestamp() > when:
            raise LinkError("link expired")


def personal_links(
    payload: Mapping[str, Any],
    target: str,
    reaches: Mapping[str, Sequence[str]],
    signer: LinkSigner,
    now: datetime,
    *,
    code: str,
) -> dict[str, Any]:
    """The payload for one target with its acknowledge/resolve links: every recipient gets links
    signed for them, and when the target reaches exactly one recipient (their e-mail, their own
    chat) the message's links are theirs; otherwise the message's links name nobody.
    ``reaches``: person id -> the targets that reach them."""
    out = dict(payload)
    for action in ("ack", "resolve"):
        out[f"{action}_url"] = signer.url(code, action, now)
    recipients = [dict(r) for r in payload.get("recipients") or []]
    for person in recipients:
        person["ack_url"] = signer.url(code, "ack", now, person=person["id"])
        person["resolve_url"] = signer.url(code, "resolve", now, person=person["id"])
    if recipients:
        out["recipients"] = recipients
    mine = [p for p in recipients if target in reaches.get(p["id"], ())]
    if len(mine) == 1:
        out["ack_url"], out["resolve_url"] = mine[0]["ack_url"], mine[0]["resolve_url"]
    return out


def load_or_create_secret(path: Path) -> bytes:
    """A random 32-byte key kept in the state directory (mode 0600) when none is configured."""
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(key.hex(), encoding="ascii")
    tmp.chmod(0o600)
    tmp.replace(path)
    return key
