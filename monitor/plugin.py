"""Configuration bases every plugin shares: connectors and senders alike.

A leaf module: strict, immutable settings models whose secrets can come from files and are masked
when shown, and paths resolved against the configuration file's directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, SecretStr, ValidationInfo, model_validator


class PluginConfig(BaseModel):
    """Base for plugin settings: unknown keys are errors, instances are immutable, secrets masked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _secret_files(cls, data: Any) -> Any:
        secret = {
            name for name, f in cls.model_fields.items() if f.annotation in (SecretStr, SecretStr | None)
        }
        return read_secret_files(data, secret)

    def masked(self) -> dict[str, Any]:
        """The settings as a dict with every secret replaced by ``**********``."""
        out: dict[str, Any] = {}
        for key, value in self:
            out[key] = "**********" if isinstance(value, SecretStr) else value
        return out

def resolve_path(value: Path, info: ValidationInfo) -> Path:
    """Relative paths in configuration are relative to the configuration file's directory."""
    base = (info.context or {}).get("base_dir") if info.context else None
    value = value.expanduser()
    return value if value.is_absolute() or base is None else Path(base) / value


ConfigPath = Annotated[Path, AfterValidator(resolve_path)]
"""A filesystem path in configuration, resolved against the configuration file's directory."""


def known_timezone(value: str) -> str:
    """``value`` if zoneinfo knows it (``Asia/Shanghai``); else a ValueError naming it."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {value!r}") from None
    return value


TimezoneName = Annotated[str, AfterValidator(known_timezone)]
"""An IANA timezone name in configuration (targets, on-call teams, SLA calendars)."""


def read_secret_files(data: Any, secret_fields: set[str]) -> Any:
    """Replace ``<field>_file: PATH`` or ``<field>_credential: NAME`` by ``<field>: <contents>``.

    Used as a ``mode="before"`` validator so that secrets can live in files (Kubernetes secrets,
    ``/etc`` files readable only by the service) or in systemd credentials - ``LoadCredential=``
    puts them into ``$CREDENTIALS_DIRECTORY``, readable only by the service - instead of the
    configuration; the content never reaches a log.
    """
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for field_name in secret_fields:
        given = [key for key in (f"{field_name}_file", f"{field_name}_credential") if key in out]
        if not given:
            continue
        if field_name in out or len(given) > 1:
            raise ValueError(f"give only one of {field_name}, {field_name}_file, {field_name}_credential")
        key = given[0]
        path = _credential_path(key, str(out.pop(key))) if key.endswith("_credential") else Path(str(out.pop(key)))
        try:
            out[field_name] = path.expanduser().read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ValueError(f"{key}: cannot read secret file {path}: {exc.strerror}") from None
    return out


def _credential_path(key: str, name: str) -> Path:
    """``$CREDENTIALS_DIRECTORY/<name>``: a credential systemd passed with ``LoadCredential=``."""
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        raise ValueError(f"{key}: $CREDENTIALS_DIRECTORY is not set (give the unit LoadCredential={name}:PATH)")
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"{key}: {name!r} is not a credential name")
    return Path(directory) / name
