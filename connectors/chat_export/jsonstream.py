"""Streaming reads of large JSON exports, one element at a time, with byte offsets.

Telegram's ``result.json`` can be hundreds of megabytes: it is never loaded whole. A
:class:`JsonReader` keeps a window of decoded text and lets a caller step through containers
(``{``, ``"key":``, ``,``, ``]``) and decode single values with the C-accelerated
:meth:`json.JSONDecoder.raw_decode`. Memory stays at the window size plus the largest single
element, and every element's start and end are known as byte offsets, which is what a checkpoint
stores and what a quarantined tail is cut from.
"""

from __future__ import annotations

import codecs
import json
import re
from typing import IO, Any

_WS = re.compile(r"[\ufeff \t\r\n]*")  # a BOM at the start of the file counts as whitespace
_CHUNK = 1 << 20


class Truncated(Exception):
    """The document ends (or stops being valid JSON/UTF-8) before it is complete."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason


class TooDeep:
    """Stands for a value nested too deeply for the decoder (it was skipped, not decoded)."""

    def __repr__(self) -> str:
        return "<value nested too deeply>"


TOO_DEEP = TooDeep()


class JsonReader:
    """A cursor over a JSON document read from ``stream`` starting at byte ``offset``.

    ``offset`` must be a character boundary (the start, or the end of a previous value).
    """

    def __init__(self, stream: IO[bytes], offset: int, *, chunk: int = _CHUNK) -> None:
        stream.seek(offset)
        self._stream = stream
        self._chunk = chunk
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._scan = json.JSONDecoder().raw_decode
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._mark_pos = 0  # a position in _buf whose byte offset is known ...
        self._mark_bytes = offset  # ... namely this one

    def byte_offset(self) -> int:
        """Byte offset of the cursor (amortised O(distance since the last call))."""
        if self._pos != self._mark_pos:
            self._mark_bytes += len(self._buf[self._mark_pos:self._pos].encode("utf-8"))
            self._mark_pos = self._pos
        return self._mark_bytes

    def _fill(self) -> bool:
        """Read one more chunk into the window; False at the end of the stream."""
        if self._eof:
            return False
        if self._pos > self._chunk:
            self.byte_offset()
            self._buf = self._buf[self._pos:]
            self._mark_pos -= self._pos
            self._pos = 0
        data = self._stream.read(self._chunk)
        try:
            text = self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise Truncated(self.byte_offset(), f"invalid UTF-8: {exc.reason}") from exc
        if not data:
            self._eof = True
        self._buf += text
        return bool(data)

    def peek(self) -> str | None:
        """The next non-whitespace character, not consumed; None at the end of the document."""
        while True:
            self._pos = _WS.match(self._buf, self._pos).end()  # type: ignore[union-attr]
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill():
                return None

    def expect(self, chars: str) -> str:
        """Consume the next non-whitespace character, which must be one of ``chars``."""
        char = self.peek()
        if char is None:
            raise Truncated(self.byte_offset(), f"document ends where one of {chars!r} was expected")
        if char not in chars:
            raise Truncated(self.byte_offset(), f"found {char!r} where one of {chars!r} was expected")
        self._pos += 1
        return char

    def value(self) -> Any:
        """Decode and consume the next JSON value (string, number, object ...)."""
        if self.peek() is None:
            raise Truncated(self.byte_offset(), "document ends where a value was expected")
        while True:
            try:
                obj, end = self._scan(self._buf, self._pos)
            except RecursionError:
                # A value nested ~1,000 levels deep: skip its bytes so the next element is read.
                self._skip_container()
                return TOO_DEEP
            except json.JSONDecodeError as exc:
                near_end = exc.pos >= len(self._buf) - 32 or exc.msg.startswith("Unterminated")
                if near_end and self._fill():
                    continue
                raise Truncated(self.byte_offset(), f"invalid JSON: {exc.msg}") from exc
            if end >= len(self._buf) and not self._eof and self._fill():
                continue  # a number cut by the window's end would decode short
            self._pos = end
            return obj

    def _skip_container(self) -> None:
        """Consume one array/object without decoding it: brackets counted outside strings."""
        depth, in_string, escaped = 0, False, False
        while True:
            if self._pos >= len(self._buf) and not self._fill():
                raise Truncated(self.byte_offset(), "document ends inside a value")
            char = self._buf[self._pos]
            self._pos += 1
            if in_string:
                if escaped:
                    escaped = False
                elif char == "\\":
                    escaped = True
                elif char == '"':
                    in_string = False
            elif char == '"':
                in_string = True
            elif char in "[{":
                depth += 1
            elif char in "]}":
                depth -= 1
                if depth <= 0:
                    return
