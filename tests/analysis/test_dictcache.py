"""The segmenter's word-table cache: a hit cuts exactly as a fresh build, the key follows every
input, and a damaged or foreign cache is a miss."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from monitor.analysis import dictcache
from monitor.analysis.segment import Segmenter, _table

WORDS = sorted(["报警", "好评返现", "秒回"])  # as Segmenter orders them
TEXTS = ["报警器报警了，好评返现是假的", "客服秒回但是没解决", "usb接口坏了3次 12315", ""]


@pytest.fixture(autouse=True)
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_hit_cuts_as_a_fresh_build() -> None:
    fresh = Segmenter(WORDS)  # a miss: built from jieba, then stored
    stored = dictcache.cache_dir() / dictcache.FILE_NAME
    assert stored.is_file()
    wanted = dictcache.key(WORDS, [])
    assert wanted is not None
    cached = dictcache.load(wanted)
    assert cached is not None and len(cached[0]) > 300_000
    again = Segmenter(WORDS)  # a hit
    assert [again(t) for t in TEXTS] == [fresh(t) for t in TEXTS]
    assert stored.stat().st_mode & 0o777 == 0o600 and dictcache.cache_dir().stat().st_mode & 0o777 == 0o700


def test_key_follows_words_and_dictionaries(tmp_path: Path) -> None:
    extra = tmp_path / "words.txt"
    extra.write_text("好评返现 9\n", encoding="utf-8")
    keys = {dictcache.key(WORDS, []), dictcache.key(WORDS[:2], []), dictcache.key(WORDS, [extra])}
    extra.write_text("好评返现 10\n", encoding="utf-8")
    keys.add(dictcache.key(WORDS, [extra]))
    assert len(keys) == 4 and None not in keys
    assert dictcache.key(WORDS, [tmp_path / "missing.txt"]) is None  # the build reports it


@pytest.mark.parametrize(
    "content", [b"", b"\x00garbage", b"\xe9" * 10], ids=["empty", "garbage", "truncated"]
)
def test_damaged_file_is_a_miss_and_rewritten(content: bytes) -> None:
    folder = dictcache.cache_dir()
    folder.mkdir(mode=0o700)
    (folder / dictcache.FILE_NAME).write_bytes(content)
    wanted = dictcache.key(WORDS, [])
    assert wanted is not None and dictcache.load(wanted) is None
    built = _table(WORDS, [])
    assert dictcache.load(wanted) == built


def test_directory_open_to_others_is_not_used() -> None:
    folder = dictcache.cache_dir()
    folder.mkdir()
    os.chmod(folder, 0o777)
    wanted = dictcache.key(WORDS, [])
    assert wanted is not None
    dictcache.store(wanted, (["报警"], [5]))
    assert not (folder / dictcache.FILE_NAME).exists()
    assert dictcache.load(wanted) is None
