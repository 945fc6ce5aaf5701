"""The watched folder: what is read, how chats are named, what the checkpoint remembers."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from connectors.chat_export import ChatExportConnector
from monitor.errors import UnavailableError
from tests.connectors.chat_export import chatgen
from tests.connectors.chat_export.conftest import make, run

SAID = chatgen.simplified()


def test_zip_members_are_named_by_file_or_by_the_zip(
    tmp_path: Path, importer: Callable[..., ChatExportConnector]
) -> None:
    with zipfile.ZipFile(tmp_path / "WhatsApp Chat - 售后群.zip", "w") as archive:
        archive.writestr("_chat.txt", chatgen.whatsapp(SAID))
        archive.writestr("00000012-PHOTO-2024-03-15.jpg", b"\xff\xd8 not a chat")
    with zipfile.ZipFile(tmp_path / "backup.zip", "w") as archive:
        archive.writestr("WhatsApp Chat with 张三.txt", chatgen.whatsapp(SAID[:2]))
        archive.writestr("WhatsApp Chat with 李四.txt", chatgen.whatsapp(SAID[2:4]))
    messages, quarantined, checkpoint = run(importer())
    assert quarantined == []
    threads = [chatgen.chat_of(m.thread_key) for m in messages]
    assert threads.count("whatsapp:售后群") == len(SAID)
    assert threads.count("whatsapp:张三") == 2 and threads.count("whatsapp:李四") == 2
    assert checkpoint is not None and not any(k.endswith(".jpg") for k in checkpoint["files"])


def test_media_and_partial_downloads_are_not_read(
    tmp_path: Path, importer: Callable[..., ChatExportConnector]
) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "photo_1.jpg").write_bytes(b"\xff\xd8\xff")
    (tmp_path / "messages.html").write_text("<html></html>", "utf-8")
    (tmp_path / "chat.txt.part").write_text(chatgen.whatsapp(SAID), "utf-8")
    (tmp_path / "chat.log").write_text(chatgen.whatsapp(SAID), "utf-8")  # any other name is sniffed
    messages, _, checkpoint = run(importer())
    assert checkpoint is not None and list(checkpoint["files"]) == ["chat.log"]
    assert len(messages) == len(SAID)


def test_deleted_files_leave_the_checkpoint(
    tmp_path: Path, importer: Callable[..., ChatExportConnector]
) -> None:
    (tmp_path / "a.txt").write_text(chatgen.whatsapp(SAID), "utf-8")
    (tmp_path / "b.txt").write_text(chatgen.wechat_txt(SAID), "utf-8")
    _, _, checkpoint = run(importer())
    (tmp_path / "b.txt").unlink()
    again, _, checkpoint = run(importer(), checkpoint)
    assert again == [] and checkpoint is not None and list(checkpoint["files"]) == ["a.txt"]


def test_a_missing_folder_is_unavailable_not_empty(tmp_path: Path) -> None:
    connector = make(tmp_path / "not-mounted")
    assert connector.check() == [f"path {tmp_path / 'not-mounted'} does not exist"]
    with pytest.raises(UnavailableError):
        run(connector)


def test_a_replaced_file_is_read_again_and_only_new_messages_are_new(
    tmp_path: Path, importer: Callable[..., ChatExportConnector]
) -> None:
    """A file rewritten with different leading bytes cannot be resumed: read whole, same ids."""
    path = tmp_path / "chat.txt"
    path.write_text(chatgen.whatsapp(SAID, system=False), "utf-8")
    first, _, checkpoint = run(importer())
    extra = chatgen.more(2, SAID[-1].at)
    path.write_text(chatgen.whatsapp(SAID + extra, system=True), "utf-8")  # new first lines
    second, _, _ = run(importer(), checkpoint)
    assert [m.external_id for m in second][: len(SAID)] == [m.external_id for m in first]
    assert len(second) == len(SAID) + 2


def test_stop_between_batches_leaves_a_resumable_checkpoint(tmp_path: Path) -> None:
    import threading

    (tmp_path / "chat.txt").write_text(chatgen.whatsapp(chatgen.more(50, SAID[0].at)), "utf-8")
    connector = make(tmp_path)
    stop = threading.Event()
    batches = []
    for batch in connector.fetch(None, batch_size=10, stop=stop):
        batches.append(batch)
        stop.set()
    assert len(batches) == 1 and len(batches[0].messages) == 10
    rest, _, _ = run(connector, batches[0].checkpoint)
    assert len(rest) == 40
