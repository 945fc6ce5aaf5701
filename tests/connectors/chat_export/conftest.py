from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connectors.chat_export import ChatExportConfig, ChatExportConnector
from monitor.message import Batch, Checkpoint, Message, Quarantined
from tests.shared_data import SHARED_DATA

# Shared third-party samples live next to the repository, never inside it.
REPO = Path(__file__).resolve().parents[3]
CHAT_SAMPLES = SHARED_DATA / "chat"


def make(path: Path, **settings: Any) -> ChatExportConnector:
    return ChatExportConnector("chats", ChatExportConfig(path=path, **settings))


def run(
    connector: ChatExportConnector, checkpoint: Checkpoint | None = None, *, batch_size: int = 500
) -> tuple[list[Message], list[Quarantined], Checkpoint | None]:
    batches: list[Batch] = list(connector.fetch(checkpoint, batch_size=batch_size))
    messages = [m for b in batches for m in b.messages]
    quarantined = [q for b in batches for q in b.quarantined]
    return messages, quarantined, (batches[-1].checkpoint if batches else checkpoint)


@pytest.fixture
def importer(tmp_path: Path) -> Callable[..., ChatExportConnector]:
    def build(**settings: Any) -> ChatExportConnector:
        return make(tmp_path, **settings)

    return build
