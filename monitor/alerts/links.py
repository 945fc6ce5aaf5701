"""Signed, expiring acknowledge/resolve links embedded in alerts (HMAC-SHA256).

A link carries the incident code, the action, an expiry (unix seconds) and a signature over the
three; the HTTP endpoint verifies it in constant time. No state is stored for links: rotating the
secret invalidates every link already sent.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

ACTIONS = ("ack", "resolve")


class LinkError(ValueError):
    pass


@dataclass(frozen=True)
class LinkSigner:
    secret: bytes
    base_url: str
    ttl: timedelta = timedelta(hours=72)

    def signature(self, code: str, action: str, expires: int) -> str:
        message = f"{code}\n{action}\n{expires}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def url(self, code: str, action: str, now: datetime) -> str:
        expires = int((now + self.ttl).timestamp())
        query = urlencode(
            {"code": code, "action": action, "exp": expires, "sig": self.signature(code, action, expires)}
        )
        return f"{self.base_url.rstrip('/')}/{action}?{query}"

    def verify(self, code: str, action: str, expires: str, signature: str, now: datetime) -> None:
        """Raise LinkError unless the link is authentic, for a known action and not expired."""
        if action not in ACTIONS:
            raise LinkError("unknown action")
        try:
            when = int(expires)
        except ValueError:
            raise LinkError("bad expiry") from None
        if not hmac.compare_digest(self.signature(code, action, when), signature):
            raise LinkError("bad signature")
        if now.timestamp() > when:
            raise LinkError("link expired")


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
