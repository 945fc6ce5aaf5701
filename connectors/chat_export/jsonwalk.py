"""Walk the containers of a chat-export JSON document down to its message arrays.

Roles name the containers the walker descends into; every other value is decoded and dropped.
The walker's position is a stack of roles plus the innermost chat's metadata, which is all that is
needed to resume at a byte offset after any message: the state is small and JSON-serialisable.

* ``root``: a Telegram export object. ``messages`` holds a single chat's messages; ``chats`` and
  ``left_chats`` hold a full-account export's chat list.
* ``chatbox``: ``{"about": ..., "list": [chat, ...]}``.
* ``chatlist``: an array of ``chat`` objects.
* ``chat``: one chat: ``name``, ``type``, ``id``, ``messages``.
* ``msgs``: an array of messages; a Slack day file is one at the top level.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from connectors.chat_export.jsonstream import JsonReader, Truncated

_META_KEYS = ("name", "type", "id")
_CHILD_ROLES = {
    ("root", "messages"): "msgs",
    ("root", "chats"): "chatbox",
    ("root", "left_chats"): "chatbox",
    ("chat", "messages"): "msgs",
    ("chatbox", "list"): "chatlist",
}


@dataclass(slots=True)
class Frame:
    role: str
    started: bool = False  # an element/key was read, so the next one follows a comma
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Element:
    """One message-array element with its byte span and the chat it belongs to."""

    value: Any
    start: int
    end: int
    chat: dict[str, Any]


class JsonWalk:
    """Yields the elements of every ``msgs`` array in a document, resumable after any of them."""

    def __init__(self, root_role: str, state: dict[str, Any] | None = None) -> None:
        self._root_role = root_role
        self._stack: list[Frame] = []
        self._done = False
        if state and state.get("stack"):
            chat = dict(state.get("chat") or {})
            self._stack = [Frame(role, True, chat if role in ("root", "chat") else {})
                           for role in state["stack"]]

    def state(self) -> dict[str, Any]:
        """The resume state after the last yielded element."""
        return {"stack": [f.role for f in self._stack], "chat": self._chat()}

    def _chat(self) -> dict[str, Any]:
        for frame in reversed(self._stack):
            if frame.role in ("root", "chat"):
                return frame.meta
        return {}

    def elements(self, stream: IO[bytes], offset: int) -> Iterator[Element]:
        """Elements after ``offset``; raises :class:`Truncated` where the document breaks."""
        reader = JsonReader(stream, offset)
        if not self._stack:
            opener = reader.expect("{[")
            if (opener == "{") != (self._root_role == "root"):
                raise Truncated(reader.byte_offset(), f"top-level {opener!r} is not a {self._root_role}")
            self._stack.append(Frame(self._root_role))
        while self._stack:
            frame = self._stack[-1]
            if frame.role in ("msgs", "chatlist"):
                yield from self._array_step(reader, frame)
            else:
                self._object_step(reader, frame)

    def _array_step(self, reader: JsonReader, frame: Frame) -> Iterator[Element]:
        char = reader.peek()
        if char == "]":
            reader.expect("]")
            self._stack.pop()
            return
        if frame.started:
            reader.expect(",")
        frame.started = True
        if frame.role == "chatlist":
            reader.expect("{")
            self._stack.append(Frame("chat"))
            return
        reader.peek()
        start = reader.byte_offset()
        value = reader.value()
        end = reader.byte_offset()
        yield Element(value, start, end, self._chat())

    def _object_step(self, reader: JsonReader, frame: Frame) -> None:
        if reader.peek() == "}":
            reader.expect("}")
            self._stack.pop()
            return
        if frame.started:
            reader.expect(",")
        frame.started = True
        key = reader.value()
        reader.expect(":")
        child = _CHILD_ROLES.get((frame.role, key)) if isinstance(key, str) else None
        if child is None:
            value = reader.value()
            if key in _META_KEYS and frame.role in ("root", "chat") and isinstance(value, str | int | float):
                frame.meta[key] = value
            return
        reader.expect("[" if child in ("msgs", "chatlist") else "{")
        self._stack.append(Frame(child))
