"""Configuration bases every plugin shares: connectors and senders alike.

A leaf module: strict, immutable settings models whose secrets can come from files and are masked
when shown, and paths resolved against the configuration file's directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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


def read_secret_files(data: Any, secret_fields: set[str]) -> Any:
    """Replace ``<field>_file: PATH`` by ``<field>: <file contents>`` for secret fields.

    Used as a ``mode="before"`` validator so that secrets can live in files (systemd credentials,
    Kubernetes secrets) instead of the configuration; the content never reaches a log.
    """
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for field_name in secret_fields:
        key = f"{field_name}_file"
        if key not in out:
            continue
        if field_name in out:
            raise ValueError(f"give either {field_name} or {key}, not both")
        path = Path(str(out.pop(key))).expanduser()
        try:
            out[field_name] = path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ValueError(f"{key}: cannot read secret file {path}: {exc.strerror}") from None
    return out
