"""One IMAP connection with the network policy around it.

* TLS, STARTTLS or plaintext (the config refuses plaintext off loopback); certificates verified
  against the system store or ``ca_file``;
* password or XOAUTH2 (token read from a file or printed by a command at every login, so a token
  refreshed by another process is picked up);
* connect and read timeouts on the socket;
* :meth:`ImapSession.run` retries an operation after a transient failure: it reconnects with
  exponential backoff and jitter, re-selects the folder and checks that its UIDVALIDITY did not
  change meanwhile (:class:`UidValidityChanged` if it did).

Failures are translated at this boundary into :mod:`monitor.errors` by what the caller should do:
wrong credentials, refused certificate, missing STARTTLS -> :class:`AuthError`; network trouble,
server down, ``[UNAVAILABLE]`` -> :class:`UnavailableError`; a folder that does not exist ->
:class:`ConfigError`.
"""

from __future__ import annotations

import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from connectors.mail.imap_config import ImapConfig
from monitor import netpolicy
from monitor.errors import AuthError, ConfigError, ConfigIssue, UnavailableError, describe

log = structlog.get_logger(__name__)
T = TypeVar("T")

# Errors after which a new connection may succeed (IMAPClientError covers NO/BAD answers such as
# "[UNAVAILABLE]" or "[SERVERBUG]"; a missing folder is turned into ConfigError before that).
TRANSIENT: tuple[type[BaseException], ...] = (OSError, IMAPClientError, EOFError, ssl.SSLError)


class Stopped(Exception):
    """The stop event was set while waiting to reconnect."""


class UidValidityChanged(Exception):
    """The folder was renumbered while we were reading it."""

    def __init__(self, folder: str, old: int, new: int) -> None:
        super().__init__(f"UIDVALIDITY of {folder!r} changed from {old} to {new}")
        self.folder, self.old, self.new = folder, old, new


@dataclass(frozen=True, slots=True)
class FolderInfo:
    """What SELECT/STATUS told us about a folder."""

    uidvalidity: int
    uidnext: int | None
    exists: int


def backoff_delay(attempt: int, initial: float, maximum: float) -> float:
    """Exponential backoff with "equal jitter", capped at ``maximum`` (:func:`monitor.netpolicy.backoff`)."""
    return netpolicy.backoff(attempt, base=initial, cap=maximum)


def _is_cert_error(exc: BaseException) -> bool:
    return isinstance(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(exc)


class ImapSession:
    """A lazily (re)opened, logged-in IMAPClient for one configured mailbox."""

    def __init__(self, config: ImapConfig, *, source: str) -> None:
        self.config = config
        self.source = source
        self.client: IMAPClient | None = None
        self.selected: tuple[str, bool] | None = None  # (folder, readonly)
        self.folder_info: dict[str, FolderInfo] = {}
        self.capabilities: frozenset[bytes] = frozenset()

    # -- connection -----------------------------------------------------------------------------
    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.config.ca_file) if self.config.ca_file else None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context

    def _token(self) -> str:
        cfg = self.config
        try:
            if cfg.oauth2_token_file is not None:
                return cfg.oauth2_token_file.read_text(encoding="utf-8").strip()
            assert cfg.oauth2_token_command is not None
            done = subprocess.run(
                list(cfg.oauth2_token_command), capture_output=True, text=True, timeout=60, check=True
            )
            return done.stdout.strip()
        except (OSError, subprocess.SubprocessError) as exc:
            raise AuthError(f"{self.source}: cannot obtain the XOAUTH2 token: {exc}") from None

    def connect(self) -> IMAPClient:
        """Open, secure and log in; returns the client (reused until it fails)."""
        if self.client is not None:
            return self.client
        cfg = self.config
        timeout = SocketTimeout(connect=cfg.connect_timeout, read=cfg.read_timeout)
        where = f"{cfg.host}:{cfg.effective_port}"
        try:
            client = IMAPClient(
                cfg.host,
                port=cfg.effective_port,
                ssl=cfg.security == "tls",
                ssl_context=self._ssl_context() if cfg.security == "tls" else None,
                timeout=timeout,
            )
        except Exception as exc:
            raise self._translate(exc, f"connect to {where}") from exc
        try:
            if cfg.security == "starttls":
                if b"STARTTLS" not in client.capabilities():
                    raise AuthError(f"{self.source}: {where} does not offer STARTTLS; refusing plaintext")
                client.starttls(self._ssl_context())
            if cfg.password is not None:
                secret = cfg.password.get_secret_value()
                if (cfg.username + secret).isascii():
                    client.login(cfg.username, secret)
                else:  # LOGIN cannot carry non-ASCII; AUTHENTICATE PLAIN is UTF-8 (RFC 4616)
                    client.plain_login(cfg.username, secret)
            else:
                client.oauth2_login(cfg.username, self._token())
            self.capabilities = frozenset(client.capabilities())
            client.normalise_times = False  # INTERNALDATE as aware datetimes, not local naive ones
        except Exception as exc:
            _shutdown(client)
            if isinstance(exc, AuthError | UnavailableError):
                raise
            raise self._translate(exc, f"log in to {where}") from exc
        log.info("imap.connected", source=self.source, server=where, security=cfg.security)
        self.client, self.selected = client, None
        return client

    def _translate(self, exc: BaseException, doing: str) -> Exception:
        text = f"{self.source}: cannot {doing}: {type(exc).__name__}: {describe(exc)}"
        if _is_cert_error(exc):
            return AuthError(text + " (TLS certificate refused)")
        if isinstance(exc, LoginError):
            if "UNAVAILABLE" in str(exc).upper():
                return UnavailableError(text)
            return AuthError(text)
        if isinstance(exc, TRANSIENT):
            return UnavailableError(text)
        if isinstance(exc, IMAPClientError):
            return UnavailableError(text)
        return exc if isinstance(exc, Exception) else UnavailableError(text)

    def close(self) -> None:
        client, self.client, self.selected = self.client, None, None
        if client is not None:
            _shutdown(client, logout=True)

    def drop(self) -> None:
        """Forget a connection that failed (without a polite LOGOUT)."""
        client, self.client, self.selected = self.client, None, None
        if client is not None:
            _shutdown(client)

    # -- folders --------------------------------------------------------------------------------
    def select(self, folder: str, *, readonly: bool = True) -> FolderInfo:
        """Select ``folder`` (EXAMINE when readonly) unless it is selected already."""
        client = self.connect()
        if self.selected == (folder, readonly) and folder in self.folder_info:
            return self.folder_info[folder]
        try:
            response = client.select_folder(folder, readonly=readonly)
        except IMAPClientAbortError:
            raise
        except IMAPClientError as exc:
            if "NONEXISTENT" in str(exc) or "exist" in str(exc).lower():
                path = f"sources.{self.source}.folders"
                issue = ConfigIssue(file="", line=None, path=path, message=f"folder {folder!r}: {exc}")
                raise ConfigError([issue]) from exc
            raise
        info = FolderInfo(
            uidvalidity=int(response[b"UIDVALIDITY"]),
            uidnext=int(response[b"UIDNEXT"]) if b"UIDNEXT" in response else None,
            exists=int(response.get(b"EXISTS", 0)),
        )
        self.selected = (folder, readonly)
        self.folder_info[folder] = info
        return info

    def run(
        self,
        operation: Callable[[IMAPClient], T],
        *,
        folder: str | None = None,
        uidvalidity: int | None = None,
        readonly: bool = True,
        stop: threading.Event | None = None,
    ) -> T:
        """Run ``operation`` on a connected client (with ``folder`` selected), retrying transients."""
        attempt = 0
        while True:
            try:
                if folder is not None:
                    info = self.select(folder, readonly=readonly)
                    if uidvalidity is not None and info.uidvalidity != uidvalidity:
                        raise UidValidityChanged(folder, uidvalidity, info.uidvalidity)
                return operation(self.connect())
            except TRANSIENT as exc:
                if _is_cert_error(exc):
                    self.drop()
                    raise self._translate(exc, "talk to the server") from exc
                error: BaseException = exc
            except UnavailableError as exc:
                error = exc
            self.drop()
            if attempt >= self.config.retries:
                # no retry_after: the backoff happened here; the daemon polls again at the next tick
                raise UnavailableError(
                    f"{self.source}: giving up after {attempt + 1} attempts: {error}"
                ) from error
            delay = backoff_delay(attempt, self.config.backoff_initial, self.config.backoff_max)
            log.warning("imap.reconnect", source=self.source, attempt=attempt + 1, delay=round(delay, 2),
                        error=f"{type(error).__name__}: {error}")
            attempt += 1
            if stop is not None:
                if stop.wait(delay):
                    raise Stopped()
            else:
                time.sleep(delay)


def _shutdown(client: IMAPClient, *, logout: bool = False) -> None:
    try:
        if logout:
            client.logout()
        else:
            client.shutdown()
    except Exception:  # the connection is being discarded; its errors no longer matter
        try:
            sock: Any = client.socket()
            sock.close()
        except Exception:  # already closed
            pass


