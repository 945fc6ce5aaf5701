"""The contract of one export format's parser."""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, ClassVar

import structlog

from connectors.chat_export.files import ExportFile
from connectors.chat_export.jsonstream import Truncated
from connectors.chat_export.jsonwalk import Element, JsonWalk
from connectors.chat_export.records import Broken, Item, ParseSettings, Record
from connectors.guard import failure_reason, is_source_error
from monitor.errors import BadInputError

log = structlog.get_logger("yuqing.connectors")


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

    def guarded(self, start: int, end: int, build: Callable[[], Iterable[Item] | Item | None]) -> list[Item]:
        """The items ``build`` makes of the record at ``[start, end)``; whatever it raises makes
        the record one Broken span instead (connectors.guard), so the rest of the file is read."""
        try:
            made = build()
        except Exception as exc:
            if is_source_error(exc):
                raise
            if not isinstance(exc, BadInputError):
                log.error("record_parse_failed", file=self.file.key, start=start, error=type(exc).__name__,
                          exc_info=exc)
            return [Broken(start, end, failure_reason(exc))]
        if made is None:
            return []
        return [made] if isinstance(made, Record | Broken) else list(made)


class JsonWalkParser(ChatParser):
    """A JSON export read as a stream of message elements (:class:`JsonWalk` from ``walk_root``):
    each element is one record, built by :meth:`_record`; a file cut off or corrupt ends with one
    Broken tail span (``cut_off`` says what the file is) from the end of the last item read."""

    walk_root: ClassVar[str]
    cut_off: ClassVar[str]

    def __init__(self, file: ExportFile, settings: ParseSettings, state: dict[str, Any] | None,
                 context: Any = None) -> None:
        super().__init__(file, settings, state, context)
        self._walk = JsonWalk(self.walk_root, self.resumed)
        self._last_end: int | None = None

    def state(self) -> dict[str, Any]:
        return self._walk.state()

    def items(self, stream: IO[bytes], offset: int) -> Iterator[Item]:
        self._last_end = None
        try:
            for element in self._walk.elements(stream, offset):
                for item in self.guarded(element.start, element.end, functools.partial(self._record, element)):
                    self._last_end = element.end
                    yield item
        except Truncated as exc:
            # Resume where the last yielded item ended: the checkpointed walker state is there.
            start = self._last_end if self._last_end is not None else offset
            yield Broken(start, self.file.size, f"{self.cut_off}: {exc.reason}", tail=True)

    @abstractmethod
    def _record(self, element: Element) -> Item | None:
        """The record (or Broken span, or ``None`` to skip) of one message element."""
