"""Configuration of the intake (``intake:`` in the YAML file)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from monitor.targets import NAME_PATTERN

MB = 1024 * 1024


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreConfig(_Model):
    """An offline store and its numbered feedback boxes (opened weekly, slips imported as ``box-csv``)."""

    id: str = Field(pattern=NAME_PATTERN)
    name: str = Field(min_length=1, max_length=128)
    boxes: list[str] = Field(default_factory=list)
    """Box numbers as printed on the box, e.g. ``["SH01-1", "SH01-2"]``."""


class IntakeConfig(_Model):
    enabled: bool = False
    """Serve ``POST /api/v1/feedback``, ``/feedback`` (the hosted form) and the status pages."""
    source: str = Field("intake", pattern=NAME_PATTERN)
    """Source name intake messages are stored under (channel ``web`` or ``app``)."""
    form: bool = True
    """Serve the hosted form at ``/feedback`` (for companies without a form of their own)."""
    max_file_mb: float = Field(10.0, gt=0, le=512)
    max_message_mb: float = Field(25.0, gt=0, le=1024)
    max_files: int = Field(5, ge=0, le=50)
    key_rate_per_minute: int = Field(120, ge=1)
    """Submissions per API key per minute (429 beyond)."""
    address_rate_per_minute: int = Field(60, ge=1)
    """Submissions per client address per minute, API and form together."""
    form_rate_per_minute: int = Field(5, ge=1)
    """Form submissions per address per minute."""
    form_min_seconds: float = Field(3.0, ge=0)
    """A form sent back faster than this after it was served is taken for a bot."""
    status_rate_per_minute: int = Field(20, ge=1)
    """Status lookups per address per minute (tokens cannot be guessed by trying)."""
    stores: list[StoreConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> IntakeConfig:
        ids = [s.id for s in self.stores]
        boxes = [b for s in self.stores for b in s.boxes]
        for label, names in (("stores", ids), ("boxes", boxes)):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"intake.{label}: duplicate {', '.join(dupes)}")
        return self

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * MB)

    @property
    def max_message_bytes(self) -> int:
        return int(self.max_message_mb * MB)

    def store_of_box(self, box: str) -> StoreConfig | None:
        return next((s for s in self.stores if box in s.boxes), None)
