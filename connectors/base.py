"""The connector contract every source implements, and the connectors' config base class.

A connector is one module and one class that declares itself: a ``kind`` (the key used in the
configuration), a ``channel`` (what kind of channel its messages come from) and a pydantic
``Config``. Secret fields are :class:`pydantic.SecretStr`, so they are masked in every repr.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import ClassVar, Generic, TypeVar

from monitor.message import Batch, Checkpoint, Message, Quarantined
from monitor.plugin import ConfigPath, PluginConfig

__all__ = ["BatchBuffer", "ConfigPath", "Connector", "ConnectorConfig"]


class ConnectorConfig(PluginConfig):
    """Base for connector settings: unknown keys are errors, instances are immutable."""


C = TypeVar("C", bound=ConnectorConfig)


class BatchBuffer:
    """Collects one fetch's items and cuts them into batches of ``size``."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.messages: list[Message] = []
        self.quarantined: list[Quarantined] = []

    def add(self, item: Message | Quarantined) -> None:
        if isinstance(item, Message):
            self.messages.append(item)
        else:
            self.quarantined.append(item)

    @property
    def full(self) -> bool:
        return len(self.messages) + len(self.quarantined) >= self.size

    def __bool__(self) -> bool:
        return bool(self.messages or self.quarantined)

    def take(self, checkpoint: Checkpoint) -> Batch:
        """The waiting items as a Batch valid with ``checkpoint``; the buffer is empty afterwards."""
        batch = Batch(tuple(self.messages), checkpoint, tuple(self.quarantined))
        self.messages, self.quarantined = [], []
        return batch


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

    def parse_raw(self, raw: bytes, raw_ref: str) -> Message:
        """Parse one raw item again (``yuqing quarantine retry``); raises BadInputError if still bad."""
        raise NotImplementedError(f"{self.kind} connector cannot re-parse quarantined input")

    def wait_for_changes(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Block until the source may have something new (push, e.g. IMAP IDLE) or ``timeout``.

        Connectors that can be told about new data override this; the daemon then runs a watcher
        thread for the source and polls at once when this returns ``True``. The default (no push)
        is never called.
        """
        return False

    @classmethod
    def pushes(cls) -> bool:
        """Whether this connector overrides :meth:`wait_for_changes`."""
        return cls.wait_for_changes is not Connector.wait_for_changes

    def after_commit(self, batch: Batch) -> None:
        """Called once ``batch`` is committed: the place for post-store actions (flag, move)."""

    def failing_parts(self) -> Mapping[str, str] | None:
        """Parts of the source that failed in the last fetch (part -> error), for a connector
        that reads several independent parts (RSS feeds, RSSHub routes) and goes on past a
        failing one; ``None`` for a connector without parts. The daemon tells the operator about
        a part that keeps failing."""
        return None

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
