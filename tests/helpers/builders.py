"""Small builders for tests: messages, analyses, configuration files."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from monitor.findings import Analysis, Finding, Match
from monitor.message import Author, Message


def message(
    external_id: str, thread: str = "t1", text: str = "hello", *, source: str = "src", title: str = ""
) -> Message:
    return Message(
        source=source,
        external_id=external_id,
        thread_key=thread,
        text=text,
        title=title,
        created_at=datetime(2026, 11, 1, 8, 0, tzinfo=UTC),
        channel="feedback",
        author=Author("u1", "User One"),
    )


class KeywordStub:
    """A tiny analyzer for spine tests: keyword -> (priority, alert). Independent of the engine."""

    def __init__(self, table: dict[str, tuple[str, bool]]) -> None:
        self.table = table

    def __call__(self, msg: Message) -> Analysis:
        findings = []
        for keyword, (priority, alert) in self.table.items():
            at = msg.text.find(keyword)
            if at >= 0:
                findings.append(
                    Finding(f"kw.{keyword}", priority, alert, (Match(keyword, at, at + len(keyword)),))
                )  # type: ignore[arg-type]
        return Analysis(tuple(findings))


def write_config(path: Path, data: dict[str, Any]) -> Path:
    """``YUQING_TEST_HTTP_FRONT`` (auto/on/off) sets ``http.front_process`` in configurations that
    have an ``http`` section: the HTTP tests run in both modes (``http.front_process``)."""
    front = os.environ.get("YUQING_TEST_HTTP_FRONT")
    if front and isinstance(data.get("http"), dict) and "front_process" not in data["http"]:
        data = {**data, "http": {**data["http"], "front_process": front}}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def write_rules(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test.yaml").write_text(
        "rules:\n"
        "  - id: t.urgent\n    keywords: {any: [紧急, urgent]}\n    priority: L1\n    alert: true\n"
        "  - id: t.complaint\n    keywords: {any: [投诉]}\n    priority: L2\n    alert: true\n",
        encoding="utf-8",
    )
    return folder
