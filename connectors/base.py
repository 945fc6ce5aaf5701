"""The connector contract every source implements, and the shared config base class.

A connector is one module and one class that declares itself: a ``kind`` (the key used in the
configuration), a ``channel`` (what kind of channel its messages come from) and a pydantic
``Config``. Secret fields are :class:`pydantic.SecretStr`, so they are masked in every repr.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, SecretStr

from monitor.message import Batch, Checkpoint


class ConnectorConfig(BaseModel):
    """Base for connector settings: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def masked(self) -> dict[str, Any]:
        """The settings as a dict with every secret replaced by ``**********``."""
        out: dict[str, Any] = {}
        for key, value in self:
            out[key] = "**********" if isinstance(value, SecretStr) else value
        return out


C = TypeVar("C", bound=ConnectorConfig)


class Connector(ABC, Generic[C]):
    """Reads one configured source.

    :meth:`fetch` yields :class:`~monitor.message.Batch` objects. Each batch carries the checkpoint
    that is valid once *its* items are stored; the core commits items and checkpoint together, so
    a crash replays at most the batch in flight, and storage deduplicates the replay.
    """

    kind: ClassVar[str]
    channel: ClassVar[str]
    Config: ClassVar[type[ConnectorConfig]]

    def __init__(self, name: str, config: C) -> None:
        self.name = name
        self.config = config

    @abstractmethod
    def fetch(
        self,
        checkpoint: Checkpoint | None,
        *,
        batch_size: int = 500,
        stop: threading.Event | None = None,
    ) -> Iterator[Batch]:
        """Yield batches of new items after ``checkpoint`` (``None`` = from the beginning).

        Implementations check ``stop`` between batches and return early when it is set.
        """

    def check(self) -> list[str]:
        """Connect to the source and return problems found (empty when it is usable)."""
        return []

    def close(self) -> None:
        """Release connections; the connector may be used again after this."""

    def describe(self) -> str:
        """A privacy-safe one-line description for logs (secrets masked)."""
        return f"{self.kind}:{self.name} {self.config.masked()}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"
