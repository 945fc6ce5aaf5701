"""The shared connector conformance suite, against a folder in each export format."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.chat_export import ChatExportConnector, GenericMapping
from tests.connectors.chat_export import chatgen
from tests.connectors.chat_export.conftest import make
from tests.connectors.conformance import ConnectorConformance

MAPPING = GenericMapping(text="body", created_at="ts", sender="who", sender_id="uid", chat="conv.id")


class _Source:
    """A folder holding one export, and how to make that export grow."""

    def __init__(self, root: Path, kind: str) -> None:
        self.root, self.kind = root, kind
        self.said = chatgen.simplified() + chatgen.traditional(
            chatgen.simplified()[-1].at + timedelta(hours=1)
        )
        self.write()

    def write(self) -> None:
        said, root = self.said, self.root
        if self.kind == "whatsapp":
            (root / "WhatsApp Chat with 售后群.txt").write_text(chatgen.whatsapp(said), "utf-8")
        elif self.kind == "telegram":
            # Telegram re-exports rewrite the file; the old messages stay byte-identical.
            (root / "result.json").write_text(chatgen.telegram_single(said), "utf-8")
        elif self.kind == "wechat_txt":
            (root / "王小明.txt").write_text(chatgen.wechat_txt(said), "utf-8")
        elif self.kind == "wechat_csv":
            (root / "王小明_utf8.csv").write_text(chatgen.wechat_csv(said, with_system=False), "utf-8")
        elif self.kind == "slack":
            chatgen.slack_export(root / "export", "support", said)
        elif self.kind == "generic":
            (root / "crm.jsonl").write_text(chatgen.generic_jsonl(said), "utf-8")

    def append(self, count: int) -> int:
        self.said = self.said + chatgen.more(count, self.said[-1].at + timedelta(days=0, minutes=30))
        self.write()
        return count


KINDS = ["whatsapp", "telegram", "wechat_txt", "wechat_csv", "slack", "generic"]


@pytest.fixture(params=KINDS, ids=KINDS)
def source(request: pytest.FixtureRequest, tmp_path: Path) -> _Source:
    return _Source(tmp_path, request.param)


class TestChatExportConformance(ConnectorConformance):
    min_messages = 10

    @pytest.fixture
    def connector(self, source: _Source) -> ChatExportConnector:
        return make(source.root, mapping=MAPPING if source.kind == "generic" else None)

    @pytest.fixture
    def append_source(self, source: _Source) -> Callable[[int], int]:
        return source.append
