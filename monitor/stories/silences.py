"""Silences: rows that mute alerts by rule, tag, source or text until they expire."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.storage.models import Silence

MATCHERS = ("rule", "tag", "source", "text")


@dataclass(frozen=True, slots=True)
class Subject:
    """What an alert is about, as far as silences can match it."""

    rules: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    text: str = ""


def active_silences(session: Session, now: datetime) -> list[Silence]:
    return list(session.scalars(select(Silence).where(Silence.expires_at > now).order_by(Silence.id)))


def matching(silences: Iterable[Silence], subject: Subject) -> Silence | None:
    text = subject.text.casefold()
    for silence in silences:
        if (
            (silence.matcher == "rule" and silence.value in subject.rules)
            or (silence.matcher == "tag" and silence.value in subject.tags)
            or (silence.matcher == "source" and silence.value in subject.sources)
            or (silence.matcher == "text" and silence.value.casefold() in text)
        ):
            return silence
    return None


def add_silence(
    session: Session,
    matcher: str,
    value: str,
    *,
    expires_at: datetime,
    reason: str,
    created_by: str,
    now: datetime,
) -> Silence:
    if matcher not in MATCHERS:
        raise ValueError(f"matcher must be one of {', '.join(MATCHERS)}")
    silence = Silence(
        matcher=matcher,
        value=value[:255],
        reason=reason,
        created_by=created_by[:128],
        created_at=now,
        expires_at=expires_at,
    )
    session.add(silence)
    session.flush()
    return silence
