"""The files connector: conformance, formats, growing files, bad input to quarantine."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from connectors.files import FilesConfig, FilesConnector
from tests.connectors.conformance import ConnectorConformance, drain


def make(folder: Path, **options: object) -> FilesConnector:
    return FilesConnector(
        "drop", FilesConfig.model_validate({"path": folder, "settle_seconds": 0, **options})
    )


def write_jsonl(path: Path, records: list[dict[str, object]], mode: str = "w") -> None:
    with path.open(mode, encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def rec(i: int, thread: str = "t") -> dict[str, object]:
    return {"id": f"r{i}", "text": f"消息 {i}", "thread": thread, "created_at": "2026-11-01T10:00:00"}


class TestConformance(ConnectorConformance):
    min_messages = 4

    @pytest.fixture
    def connector(self, tmp_path: Path) -> FilesConnector:
        write_jsonl(tmp_path / "a.jsonl", [rec(i) for i in range(3)])
        (tmp_path / "b.csv").write_text('id,text,thread\nc1,first,x\nc2,"two\nlines",x\n', encoding="utf-8")
        return make(tmp_path)

    @pytest.fixture
    def append_source(self, tmp_path: Path) -> Callable[[int], int]:
        def append(n: int) -> int:
            write_jsonl(tmp_path / "a.jsonl", [rec(100 + i) for i in range(n)], mode="a")
            return n

        return append


def test_fields_are_mapped_and_naive_times_use_the_configured_zone(tmp_path: Path) -> None:
    write_jsonl(
        tmp_path / "x.jsonl",
        [
            {
                "msg": "紧急",
                "conv": "c1",
                "who": "u9",
                "ts": "2026-11-01 08:00:00",
                "likes": 3,
                "followers": "1200",
            }
        ],
    )
    connector = make(
        tmp_path,
        fields={"text": "msg", "thread": "conv", "author": "who", "created_at": "ts"},
        timezone="UTC",
    )
    (message,), _, _ = drain(connector, None)
    assert (message.text, message.thread_key, message.author.id) == ("紧急", "c1", "u9")
    assert message.created_at.isoformat() == "2026-11-01T08:00:00+00:00"
    assert message.engagement.likes == 3
    assert message.author.followers == 1200
    assert message.external_id.startswith("h:"), "no id field: a content hash"


def test_records_without_id_get_the_same_hash_on_every_read(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "x.jsonl", [{"text": "a", "thread": "t"}, {"text": "b", "thread": "t"}])
    first, _, _ = drain(make(tmp_path), None)
    second, _, _ = drain(make(tmp_path), None)
    assert [m.external_id for m in first] == [m.external_id for m in second]
    assert len({m.external_id for m in first}) == 2


def test_plain_text_lines_are_messages(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("第一条反馈\n\nsecond line\n", encoding="utf-8")
    messages, _, _ = drain(make(tmp_path), None)
    assert [m.text for m in messages] == ["第一条反馈", "second line"]


def test_a_partial_last_line_waits_until_the_file_settles(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    path.write_text(json.dumps(rec(1)) + "\n" + '{"id": "r2", "text": "half', encoding="utf-8")
    connector = make(tmp_path, settle_seconds=30)
    messages, checkpoint, _ = drain(connector, None)
    assert [m.external_id for m in messages] == ["r1"]
    with path.open("a", encoding="utf-8") as handle:
        handle.write(' done", "thread": "t"}\n')
    messages, _, _ = drain(connector, checkpoint)
    assert [(m.external_id, m.text) for m in messages] == [("r2", "half done")]


def test_a_settled_file_cut_mid_record_quarantines_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    path.write_text(json.dumps(rec(1)) + "\n" + '{"id": "r2", "text": "tru', encoding="utf-8")
    old = time.time() - 60
    os.utime(path, (old, old))
    connector = make(tmp_path, settle_seconds=5)
    batches = list(connector.fetch(None))
    assert [m.external_id for b in batches for m in b.messages] == ["r1"]
    (bad,) = [q for b in batches for q in b.quarantined]
    assert "invalid JSON" in bad.reason
    assert bad.raw == b'{"id": "r2", "text": "tru'
    assert bad.raw_ref == f"cut.jsonl@{len(json.dumps(rec(1))) + 1}"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"id": 1, "text": "ok"}\n\xff\xfe bad bytes\n', "invalid utf-8"),
        (b'{"id": 1, "text": "ok"}\n[1, 2]\n', "not an object"),
        (b'{"id": 1, "text": "ok"}\n{"id": 2}\n', "no 'text' field"),
        (b'{"id": 1, "text": "ok"}\n{"id": 2, "text": ["x"]}\n', "'text' is a list, not text"),
        (b'{"id": 1, "text": "ok"}\n{"id": {"n": 1}, "text": "x"}\n', "'id' must be a string or an integer"),
        (b'{"id": 1, "text": "ok"}\n{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n", "RecursionError"),
    ],
    ids=["invalid-utf8", "not-object", "no-text", "list-text", "object-id", "nested-100k"],
)
def test_bad_records_are_quarantined_and_the_rest_is_read(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    (tmp_path / "x.jsonl").write_bytes(content)
    batches = list(make(tmp_path).fetch(None))
    assert [m.text for b in batches for m in b.messages] == ["ok"]
    (bad,) = [q for b in batches for q in b.quarantined]
    assert reason in bad.reason
    assert bad.raw_ref == "x.jsonl@24"


def test_an_oversized_line_is_quarantined_with_a_capped_copy(tmp_path: Path) -> None:
    big = b'{"text": "' + b"x" * 3_000_000 + b'"}\n'
    (tmp_path / "a.jsonl").write_bytes(big + b'{"id": "after", "text": "still read"}\n')
    batches = list(make(tmp_path, max_record_bytes=1024 * 1024).fetch(None))
    assert [m.external_id for b in batches for m in b.messages] == ["after"]
    (bad,) = [q for b in batches for q in b.quarantined]
    assert "larger than 1048576 bytes" in bad.reason
    assert bad.size == len(big)
    assert len(bad.raw) <= 64 * 1024


def test_a_binary_file_is_one_quarantine_row(tmp_path: Path) -> None:
    (tmp_path / "junk.jsonl").write_bytes(bytes(range(256)) * 100)
    write_jsonl(tmp_path / "z.jsonl", [rec(1)])
    batches = list(make(tmp_path).fetch(None))
    assert [m.external_id for b in batches for m in b.messages] == ["r1"]
    (bad,) = [q for b in batches for q in b.quarantined]
    assert "binary file" in bad.reason


def test_csv_quoted_newlines_bad_rows_and_a_cut_off_quote(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text(
        'id,text,thread\n1,"多行\n内容",t\n2,only-two-fields\n3,"never closed,t\n', encoding="utf-8"
    )
    batches = list(make(tmp_path).fetch(None))
    assert [(m.external_id, m.text) for b in batches for m in b.messages] == [("1", "多行\n内容")]
    reasons = [q.reason for b in batches for q in b.quarantined]
    assert len(reasons) == 2
    assert "2 fields, header has 3" in reasons[0]
    assert "cut off" in reasons[1]


def test_a_replaced_file_is_read_again_from_the_start(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_jsonl(path, [rec(1), rec(2)])
    connector = make(tmp_path)
    _, checkpoint, _ = drain(connector, None)
    path.unlink()
    write_jsonl(path, [rec(7)])
    messages, _, _ = drain(connector, checkpoint)
    assert [m.external_id for m in messages] == ["r7"]


def test_parse_raw_reparses_a_quarantined_line(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text("{}\n", encoding="utf-8")
    message = make(tmp_path).parse_raw(b'{"id": "q", "text": "fixed"}', "a.jsonl@0")
    assert (message.external_id, message.text) == ("q", "fixed")
