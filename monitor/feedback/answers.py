"""Answers through the signed link's page: the follow-up's token names what is answered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.storage.db import Database
from monitor.storage.models import Followup, Ticket
from monitor.tickets.satisfaction import Score, record_satisfaction

Outcome = Literal["recorded", "already", "opted-out", "unknown"]


@dataclass(frozen=True, slots=True)
class Asked:
    """What the page shows for a token: a ticket's follow-up or a campaign's questionnaire."""

    kind: str
    ref: str  # ticket code or campaign
    answered: bool


def followup_by_token(session: Session, token: str) -> Followup | None:
    return session.scalars(select(Followup).where(Followup.token == token)).first()


def asked(db: Database, token: str) -> Asked | None:
    with db.read() as session:
        row = followup_by_token(session, token)
        if row is None:
            return None
        ref = row.campaign or ""
        if row.ticket_id is not None and row.kind == "satisfaction":
            ref = session.scalar(select(Ticket.code).where(Ticket.id == row.ticket_id)) or ""
        return Asked(row.kind, ref, row.answered_at is not None)


def answer_by_link(
    db: Database, token: str, score: Score | None, text: str, *, opt_out: bool = False, now: datetime
) -> Outcome:
    """Record the page's answer once (a second submit is ``already``); opt-out for surveys."""
    with db.transaction() as session:
        row = followup_by_token(session, token)
        if row is None:
            return "unknown"
        if row.kind == "survey":
            from monitor.feedback.surveys import answer_survey_link

            return answer_survey_link(session, row, score, text, opt_out=opt_out, now=now)
        if row.answered_at is not None or score is None or row.ticket_id is None:
            return "already" if row.answered_at is not None else "unknown"
        ticket = session.get(Ticket, row.ticket_id)
        if ticket is None:
            return "unknown"
        record_satisfaction(session, ticket, score, channel="link", raw=text, now=now, followup=row)
        return "recorded"
