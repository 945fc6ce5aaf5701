"""On-call settings the story tests share: a PR team with a day rotation and a weekly backup."""

from __future__ import annotations

from typing import Any


def day_and_backup(
    primary: str = "zhang", secondary: str = "wang", *, start: str = "2026-11-02"
) -> list[dict[str, Any]]:
    """Two rotations handing off at 09:00: ``day`` (primary, 9-hour shifts of ``primary``) and
    ``backup`` (secondary, weekly, 10-hour shifts of ``secondary``)."""
    return [
        {
            "name": "day",
            "role": "primary",
            "start": start,
            "handoff": "09:00",
            "shift_hours": 9,
            "members": [primary],
        },
        {
            "name": "backup",
            "role": "secondary",
            "type": "weekly",
            "start": start,
            "handoff": "09:00",
            "shift_hours": 10,
            "members": [secondary],
        },
    ]


PRIMARY_THEN_SECONDARY = [{"notify": "primary"}, {"notify": "secondary", "after_minutes": 15}]
"""Page the primary, then the secondary after 15 minutes without an acknowledgement."""
