"""The contract of one export format's parser."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import IO, Any, ClassVar

from connectors.chat_export.files import ExportFile
from connectors.chat_export.records import Item, ParseSettings


class ChatParser(ABC):
    """Reads one export format from a byte offset on.

    ``sniff`` scores how sure it is that a file is in this format from the first 64 KiB (0 = not
    this format); detection picks the highest score. :meth:`items` yields records and broken
    spans in file order. While the generator is suspended after yielding an item,
    :meth:`state` returns what a later instance needs to resume at that item's end (the date
    order chosen for the file, CSV columns, JSON nesting); it must be JSON-serialisable.
    """

    name: ClassVar[str]

    def __init__(self, file: ExportFile, settings: ParseSettings, state: dict[str, Any] | None,
                 context: Any = None) -> None:
        self.file = file
        self.settings = settings
        self.resumed = dict(state or {})
        self.context = context

    @classmethod
    @abstractmethod
    def sniff(cls, head: str, file: ExportFile, settings: ParseSettings) -> int:
        """How likely (0-100) ``head`` (the decoded start of ``file``) is in this format."""

    @abstractmethod
    def items(self, stream: IO[bytes], offset: int) -> Iterator[Item]:
        """Records and broken spans from ``offset`` (0 or a previous item's ``end``) on."""

    def state(self) -> dict[str, Any]:
        return {}
