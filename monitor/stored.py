"""The stored-message record the ticket, story and alert stages share.

A leaf module (it imports only other leaf records), so that tickets, stories and alerts depend on
the record and not on the ingest stage that happens to produce it.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.findings import Analysis
from monitor.message import Message


@dataclass(slots=True)
class MessageRow:
    """The columns of a just-inserted ``messages`` row that the ticket and alert stages use.

    Messages are inserted with one bulk statement rather than as ORM objects (the unit of work
    cost ten times the insert itself); ``ticket_id`` is filled in by the ticket stage.
    """

    id: int
    thread_key: str
    channel: str
    ticket_id: int | None = None
    keys: tuple[str, str, tuple[str, ...]] | None = None
    """``(text_key, root_key, owner_keys)`` of the text (``connectors.reposts.post_keys``), as
    storage computed them for the row, so the ticket stage does not normalise the text again;
    None: not computed (the ticket stage computes them)."""


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message stored by this batch, with its row and its analysis."""

    row: MessageRow
    message: Message
    analysis: Analysis
