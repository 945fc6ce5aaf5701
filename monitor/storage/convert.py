"""Stored rows back to the shared records (review approval, backtests)."""

from __future__ import annotations

from typing import Any

from monitor.findings import Analysis, Finding, Match, Sentiment
from monitor.message import Author, Engagement, Message
from monitor.storage.models import StoredMessage


def to_message(row: StoredMessage, source_name: str) -> Message:
    """The :class:`Message` a stored ``messages`` row was made from."""
    return Message(
        source=source_name,
        external_id=row.external_id,
        thread_key=row.thread_key,
        text=row.text,
        created_at=row.created_at,
        channel=row.channel,
        author=Author(row.author_id, row.author_name, row.author_followers),
        title=row.title,
        html=row.html,
        url=row.url,
        engagement=Engagement(row.likes, row.reposts, row.replies),
        raw_ref=row.raw_ref,
    )


def to_analysis(record: dict[str, Any] | None) -> Analysis:
    """The :class:`Analysis` stored with a message (``ingest.store.analysis_record``), every
    analysed field kept: rule, priority, type, category, department, tags, keywords."""
    record = record or {}
    findings = []
    for item in record.get("findings") or []:
        findings.append(
            Finding(
                rule_id=str(item["rule_id"]),
                priority=item.get("priority"),
                alert=bool(item.get("alert")),
                review=bool(item.get("review")),
                feedback_type=item.get("feedback_type"),
                category=item.get("category"),
                department=item.get("department"),
                tags=tuple(item.get("tags") or ()),
                matches=tuple(Match(str(k), int(s), int(e), str(f)) for k, s, e, f in item.get("matches") or ()),
            )
        )
    if not findings:  # rows stored before the findings were recorded
        findings = [
            Finding(rule_id=rule, priority=record.get("priority"), alert=bool(record.get("alert")))
            for rule in record.get("rules") or ["review"]
        ]
    sentiment = record.get("sentiment")
    return Analysis(
        tuple(findings),
        Sentiment(float(sentiment["score"]), sentiment["label"]) if sentiment else None,
    )
