"""Errors classified by what the caller should do about them.

* :class:`ConfigError` - refuse to start (or keep the old configuration on reload).
* :class:`AuthError` - disable the source or sender and tell the operator once.
* :class:`UnavailableError` - temporary; retry later with backoff.
* :class:`BadInputError` - this one input is broken; quarantine it and continue.
"""

from __future__ import annotations

from dataclasses import dataclass


class YuqingError(Exception):
    """Base of all project errors."""


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One configuration problem with where it is: ``file:line path: message``."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where} {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(YuqingError):
    """The configuration is invalid; carries every issue found, not just the first."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


class AuthError(YuqingError):
    """Credentials are missing, wrong or revoked: disable the source/sender, alert the operator."""


class UnavailableError(YuqingError):
    """A remote end is temporarily unavailable: retry with backoff."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BadInputError(YuqingError):
    """One input cannot be parsed: quarantine it with its raw bytes and continue."""


def describe(exc: BaseException) -> str:
    """An exception as readable text for logs and operators: bytes arguments decoded.

    imaplib and imapclient raise errors whose argument is the server's raw response, so
    ``str(exc)`` reads ``b'[AUTHENTICATIONFAILED] Authentication failed.'``; this reads
    ``[AUTHENTICATIONFAILED] Authentication failed.``.
    """
    parts = [
        arg.decode("utf-8", "replace") if isinstance(arg, bytes | bytearray) else str(arg) for arg in exc.args
    ]
    return "; ".join(part for part in parts if part) or type(exc).__name__
