"""Helpers for analysis tests: build messages and rule sets from inline YAML."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.analysis.engine import Engine, load_engine
from monitor.message import Author, Engagement, Message

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules"


def message(
    text: str,
    *,
    title: str = "",
    source: str = "test",
    channel: str = "",
    followers: int | None = None,
    likes: int = 0,
) -> Message:
    return Message(
        source=source,
        external_id="1",
        thread_key="t",
        text=text,
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
        channel=channel,
        title=title,
        author=Author(followers=followers),
        engagement=Engagement(likes=likes),
    )


@pytest.fixture
def engine_from(tmp_path: Path) -> Callable[[str], Engine]:
    """``engine_from(yaml_text)`` → an Engine over a one-file rule set."""

    def build(text: str) -> Engine:
        path = tmp_path / "rules.yaml"
        path.write_text(text, encoding="utf-8")
        return load_engine([path])

    return build


@pytest.fixture(scope="session")
def default_engine() -> Engine:
    return load_engine([RULES])
