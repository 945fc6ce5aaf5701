"""Settings of ticket threading (the ``tickets:`` section of the main configuration)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field


class TicketsConfig(BaseModel):
    """How messages are threaded onto tickets.

    ``subject_thread_window_days``: a reply that names no known message (an e-mail with only
    "Re: <subject>") joins the latest message of the same sender with the same normalised
    subject at most this many days apart; 0 turns subject threading off.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject_thread_window_days: float = Field(14.0, ge=0, le=365)

    @property
    def subject_window(self) -> timedelta:
        return timedelta(days=self.subject_thread_window_days)
