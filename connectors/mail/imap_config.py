"""Settings of an IMAP source, validated at start-up (see ``docs/imap.md`` for an example)."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from connectors.base import ConfigPath, ConnectorConfig

IDLE_LIMIT = 29 * 60  # RFC 2177: servers may drop an IDLE after 30 minutes; re-issue before 29


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (where plaintext IMAP cannot be sniffed)."""
    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ImapConfig(ConnectorConfig):
    """One mailbox: server, credentials, folders, timeouts and what to do after storing."""

    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535, description="default 993 (tls) or 143")
    security: Literal["tls", "starttls", "plain"] = "tls"
    allow_plaintext: bool = Field(default=False, description="permit security=plain to a non-loopback host")
    ca_file: ConfigPath | None = Field(default=None, description="PEM bundle to verify the server with")
    username: str = Field(min_length=1)
    password: SecretStr | None = None
    oauth2_token_file: ConfigPath | None = Field(default=None, description="XOAUTH2 access token file")
    oauth2_token_command: tuple[str, ...] | None = Field(
        default=None, description="argv printing an XOAUTH2 access token (run at every login)"
    )
    folders: tuple[str, ...] = Field(default=("INBOX",), min_length=1)
    connect_timeout: float = Field(default=15.0, gt=0)
    read_timeout: float = Field(default=60.0, gt=0)
    retries: int = Field(default=5, ge=0, description="reconnect attempts before giving up a fetch")
    backoff_initial: float = Field(default=1.0, gt=0)
    backoff_max: float = Field(default=60.0, gt=0)
    idle: bool = Field(default=True, description="use IMAP IDLE when the server offers it")
    idle_reissue: float = Field(default=25 * 60.0, gt=0, lt=IDLE_LIMIT)
    poll_interval: float = Field(default=60.0, gt=0, description="polling period without IDLE")
    max_message_bytes: int = Field(default=25 * 1024 * 1024, gt=0, description="larger mail is quarantined")
    quarantine_keep_bytes: int = Field(default=64 * 1024, ge=0, description="prefix kept of oversized mail")
    max_batch_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    after_store: Literal["none", "seen", "move"] = "none"
    move_to: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ImapConfig:
        if self.security == "plain" and not self.allow_plaintext and not is_loopback(self.host):
            raise ValueError(
                f"security=plain to {self.host} would send the password unencrypted; "
                "use tls/starttls or set allow_plaintext: true"
            )
        credentials = [self.password, self.oauth2_token_file, self.oauth2_token_command]
        if sum(c is not None for c in credentials) != 1:
            raise ValueError("give exactly one of password, oauth2_token_file, oauth2_token_command")
        if self.after_store == "move" and not self.move_to:
            raise ValueError("after_store: move needs move_to")
        if self.move_to and self.move_to in self.folders:
            raise ValueError(f"move_to {self.move_to!r} is one of the watched folders")
        if len(set(self.folders)) != len(self.folders):
            raise ValueError("folders lists a folder twice")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.security == "tls" else 143)
