"""``yuqing import``: one-off imports into the database, idempotent, with a summary."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor.cli import main
from monitor.importer import Stored, bytes_done, run_import
from monitor.message import Batch
from monitor.storage.db import Database
from monitor.storage.models import QuarantineItem, Source, StoredMessage
from tests.connectors.chat_export import chatgen
from tests.connectors.chat_export.conftest import REPO, make


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "yuqing.yaml"
    path.write_text(f"state_dir: {tmp_path / 'var'}\nrules:\n  paths: [{REPO / 'rules'}]\n", "utf-8")
    assert main(["-c", str(path), "db", "upgrade"]) == 0  # only `db upgrade` and `run` migrate
    return path


def _count(db_path: Path, model: type) -> int:
    db = Database(f"sqlite:///{db_path}")
    try:
        with db.read() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        db.dispose()


def test_import_stores_once_and_reports(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "exports"
    export.mkdir()
    said = chatgen.simplified()
    (export / "WhatsApp Chat with 售后群.txt").write_text(chatgen.whatsapp(said), "utf-8")
    cut = chatgen.telegram_single(chatgen.traditional()).encode()
    (export / "result.json").write_bytes(cut[: cut.index("產品品質".encode()) + 1])

    assert main(["-c", str(config), "import", str(export), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "imported" in out and "quarantined" in out
    db = tmp_path / "var" / "yuqing.db"
    assert _count(db, StoredMessage) == len(said) + 3
    assert _count(db, QuarantineItem) == 1

    assert main(["-c", str(config), "import", str(export), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert _count(db, StoredMessage) == len(said) + 3  # a re-import adds nothing
    assert "duplicates" in out and f"{len(said) + 3}" in out
    # the import never moves a source checkpoint
    database = Database(f"sqlite:///{db}")
    with database.read() as session:
        assert session.scalar(select(Source.checkpoint).where(Source.name == "chat-import")) is None
    database.dispose()


def test_import_with_forced_format_and_mapping(tmp_path: Path, config: Path) -> None:
    data = tmp_path / "crm.log"
    data.write_text(chatgen.generic_csv(chatgen.traditional()), "utf-8")
    argv = [
        "-c",
        str(config),
        "import",
        str(data),
        "--no-progress",
        "--format",
        "generic",
        "--map",
        "text=内容",
        "--map",
        "created_at=时间",
        "--map",
        "sender=用户",
        "--map",
        "delimiter=;",
        "--map",
        "time_format=%Y/%m/%d %H:%M:%S",
        "--source",
        "crm",
    ]
    assert main(argv) == 0
    assert _count(tmp_path / "var" / "yuqing.db", StoredMessage) == len(chatgen.TRADITIONAL)


def test_import_of_unrecognised_input_fails(tmp_path: Path, config: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("购物清单\n牛奶\n", "utf-8")
    assert main(["-c", str(config), "import", str(notes), "--no-progress"]) == 1
    assert main(["-c", str(config), "import", str(tmp_path / "missing"), "--no-progress"]) == 2  # a bad path is a usage error


def test_import_with_a_forced_format_that_reads_nothing_fails(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A WhatsApp export imported as Telegram: every byte is quarantined, nothing imported."""
    chat = tmp_path / "WhatsApp Chat with A.txt"
    chat.write_text("04/03/24, 10:00 - A: 你好\n04/03/24, 10:01 - A: 在吗\n", "utf-8")
    assert main(["-c", str(config), "import", str(chat), "--format", "telegram", "--no-progress"]) == 2
    assert "read no messages as telegram" in capsys.readouterr().err
    assert main(["-c", str(config), "import", str(chat), "--no-progress"]) == 0, "detected, it imports"
    assert _count(tmp_path / "var" / "yuqing.db", StoredMessage) == 2


def test_run_import_reports_progress_in_bytes(tmp_path: Path) -> None:
    said = chatgen.more(140, chatgen.simplified()[0].at)
    (tmp_path / "chat.txt").write_text(chatgen.whatsapp(said), "utf-8")
    size = (tmp_path / "chat.txt").stat().st_size
    seen: list[tuple[int, int]] = []
    stored: set[str] = set()

    def sink(batch: Batch) -> Stored:
        new = 0
        for message in batch.messages:
            new += message.external_id not in stored
            stored.add(message.external_id)
        return Stored(new, len(batch.messages) - new, len(batch.quarantined))

    summary = run_import(make(tmp_path), sink, batch_size=10, progress=lambda d, t: seen.append((d, t)))
    assert summary.imported == len(stored) == len(said) and summary.recognised == 1
    assert len(seen) > 3
    assert [t for _, t in seen] == [size] * len(seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1][0] == size
    assert bytes_done({"files": {"chat.txt": {"offset": 5, "done": False}}}, {"chat.txt": size}) == 5
