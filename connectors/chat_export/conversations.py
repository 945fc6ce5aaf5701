"""Conversation keys for chat exports: one chat holds many conversations, each its own ticket.

A busy customer group interleaves several people's questions; a quiet hour separates one
question from the next. A message opens or continues the conversation of its sender in its chat
(``sender`` mode), or of the whole chat (``chat`` mode, one-to-one chats), while no more than the
configured gap has passed since that conversation's last message. Configured staff members
answer: their messages continue the conversation last active in the chat. The key names the chat, the
sender and the conversation's first minute, so it is the same whether a file is read in one go
or in pieces (the open conversations travel in the checkpoint) and when a file is read again.

Replies that name the message they answer (Telegram ``reply_to_message_id``, Slack
``thread_ts``, a mapped ``reply_to`` column) carry that id as a reference; the ticket stage puts
them on the answered message's ticket whatever their own key says.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from connectors.chat_export.records import Record

SAMPLE_RECORDS = 2000  # records read to tell one-to-one chats from groups
_MAX_OPEN = 5000  # conversations kept open in a checkpoint: the most recent ones


class Conversations:
    """Assigns conversation keys for one file; :meth:`state` / the constructor resume it."""

    def __init__(self, gap_minutes: float, mode: str = "auto", state: dict[str, Any] | None = None,
                 *, two_party: Iterable[str] = ()) -> None:
        self._gap = int(gap_minutes * 60_000)
        self._mode = mode
        state = state or {}
        self._two_party = frozenset(str(c) for c in state.get("two_party") or two_party)
        opened = state.get("open") or {}
        self._open: dict[str, tuple[int, int]] = {
            str(k): (int(v[0]), int(v[1])) for k, v in opened.items() if isinstance(v, list) and len(v) == 2
        }
        self._latest = int(state.get("latest") or 0)
        self._recent: dict[str, str] = {str(k): str(v) for k, v in (state.get("recent") or {}).items()}

    def _live(self, slot: str, millis: int) -> bool:
        """Whether ``slot`` continues at ``millis``: closed once quiet for the gap before the latest
        message seen (the rule state() prunes by, so a file read in pieces gives the keys a file
        read in one go gives)."""
        found = self._open.get(slot)
        return found is not None and abs(millis - found[1]) <= self._gap and found[1] >= self._latest - self._gap

    def whole_chat(self, chat: str, *, private: bool) -> bool:
        """Whether ``chat`` is one conversation per quiet gap rather than one per sender."""
        return self._mode == "chat" or (self._mode == "auto" and (private or chat in self._two_party))

    def key(self, chat: str, sender: str, millis: int, *, staff: bool = False, private: bool = False) -> str:
        """The conversation of a message from ``sender`` in ``chat`` at ``millis``.

        A ``staff`` member's message continues the conversation last active in the chat, when
        one is open, instead of opening one of its own.
        """
        slot = f"{chat}\x1f{'' if self.whole_chat(chat, private=private) else sender}"
        recent = self._recent.get(chat)
        if staff and recent is not None and recent != slot and self._live(recent, millis):
            slot = recent
        elif not staff:
            self._recent[chat] = slot
        found = self._open.get(slot)
        if found is not None and self._live(slot, millis):
            start, last = found[0], max(millis, found[1])
        else:
            start, last = millis, millis
        self._open[slot] = (start, last)
        self._latest = max(self._latest, millis)
        who = slot.split("\x1f", 1)[1]
        return f"{chat}/{who}@{start // 1000}" if who else f"{chat}@{start // 1000}"

    def state(self) -> dict[str, Any]:
        """Open conversations only: one quiet for longer than the gap can never continue."""
        horizon = self._latest - self._gap
        live = {k: v for k, v in self._open.items() if v[1] >= horizon}
        if len(live) > _MAX_OPEN:
            live = dict(sorted(live.items(), key=lambda item: item[1][1])[-_MAX_OPEN:])
        self._open = live  # what was dropped can never continue (see key())
        self._recent = {chat: slot for chat, slot in self._recent.items() if slot in live}
        return {"open": {k: list(v) for k, v in live.items()}, "latest": self._latest,
                "recent": dict(self._recent), "two_party": sorted(self._two_party)}


def two_party_chats(records: Iterable[Record], sample: int = SAMPLE_RECORDS) -> list[str]:
    """Chats with at most two senders among the first ``sample`` records: one-to-one chats
    (a customer and whoever answers), one conversation per quiet gap in ``auto`` mode. A chat
    the export calls a group is never one: two customers asking in a group are two conversations."""
    senders: dict[str, set[str]] = {}
    groups: set[str] = set()
    for record in itertools.islice(records, sample):
        if record.group:
            groups.add(record.chat_id)
        seen = senders.setdefault(record.chat_id, set())
        if len(seen) <= 2:
            seen.add(record.sender_id)
    return sorted(chat for chat, seen in senders.items() if len(seen) <= 2 and chat not in groups)
