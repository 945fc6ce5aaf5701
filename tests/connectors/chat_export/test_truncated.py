"""A file cut off mid-record imports its complete part and quarantines the rest, once."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from connectors.chat_export import ChatExportConnector, GenericMapping
from tests.connectors.chat_export import chatgen
from tests.connectors.chat_export.conftest import run

SAID = chatgen.simplified() + chatgen.traditional()


def _cut_inside(data: bytes, marker: str, extra: int) -> bytes:
    """``data`` cut ``extra`` bytes into the first occurrence of ``marker``."""
    return data[: data.index(marker.encode()) + extra]


CASES: dict[str, tuple[str, Callable[[], bytes], str, int, dict[str, object]]] = {
    # name: file name, full content, where to cut (a few bytes into this), messages before, settings
    "telegram-mid-object": (
        "result.json",
        lambda: chatgen.telegram_single(SAID).encode(),
        SAID[6].text,
        6,
        {},
    ),
    "telegram-mid-utf8": ("result.json", lambda: chatgen.telegram_single(SAID).encode(), "產品品質", 10, {}),
    "whatsapp-mid-header": ("chat.txt", lambda: chatgen.whatsapp(SAID).encode(), "16/03/24, 22:", 10, {}),
    "whatsapp-mid-utf8": ("chat.txt", lambda: chatgen.whatsapp(SAID).encode(), SAID[6].text, 6, {}),
    "wechat-csv-open-quote": (
        "王小明_utf8.csv",
        lambda: chatgen.wechat_csv(SAID, with_system=False).encode(),
        "订单号 20240315",
        2,
        {},
    ),
    "wechat-txt-mid-message": ("王小明.txt", lambda: chatgen.wechat_txt(SAID).encode(), "快递员态度", 2, {}),
    "slack-mid-array": ("export/support/2024-03-15.json", lambda: b"", "", 0, {}),
    "generic-jsonl": (
        "crm.jsonl",
        lambda: chatgen.generic_jsonl(SAID).encode(),
        SAID[6].text,
        6,
        {"mapping": GenericMapping(text="body", created_at="ts", sender="who", chat="conv.id")},
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_cut_file_imports_complete_part_and_quarantines_rest(
    case: str, tmp_path: Path, importer: Callable[..., ChatExportConnector]
) -> None:
    name, content, marker, complete, settings = CASES[case]
    path = tmp_path / name
    if case.startswith("slack"):
        chatgen.slack_export(tmp_path / "export", "support", SAID[:7])
        full = path.read_bytes()
        marker, complete = SAID[6].text, 6
    else:
        full = content()
        path.parent.mkdir(parents=True, exist_ok=True)
    # 1 byte into a 3-byte character; 11 bytes into "16/03/24, 22:07 - " leaves "16/03/24, 2"
    extra = {"telegram-mid-utf8": 1, "whatsapp-mid-utf8": 1, "whatsapp-mid-header": 11}.get(case, 3)
    cut = _cut_inside(full, marker, extra)
    path.write_bytes(cut)
    connector = importer(**settings)

    messages, quarantined, checkpoint = run(connector)
    assert len(messages) == complete
    assert len(quarantined) == 1
    rest = quarantined[0]
    assert cut.endswith(rest.raw) and rest.raw  # the raw tail, byte for byte
    assert rest.reason and rest.raw_ref.startswith(name)
    assert [m.text for m in messages] == [s.text for s in SAID[:complete]]

    # polling the unchanged file again neither re-imports nor re-quarantines
    again, quarantined_again, checkpoint = run(connector, checkpoint)
    assert again == [] and quarantined_again == []

    # once the file is complete, the rest is imported from where the good part ended
    path.write_bytes(full)
    os.utime(path, ns=(1, 1))  # a new mtime even on coarse clocks
    rest_messages, rest_quarantined, _ = run(connector, checkpoint)
    assert rest_quarantined == []
    assert len(messages) + len(rest_messages) == (7 if case.startswith("slack") else len(SAID))
