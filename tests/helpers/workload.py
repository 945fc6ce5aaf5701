"""Generated feedback for end-to-end runs: JSONL files, a minimal rule file, a daemon config.

The crash test, the malformed-input test and ``bench/pipeline.py`` all use these, so the numbers
the benchmark prints describe the same workload the tests prove correct. Everything is seeded:
one seed, one workload.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# keyword -> priority; the minimal rule format (id, keywords.any, priority, alert)
ALERT_WORDS: dict[str, tuple[str, ...]] = {
    "L1": ("爆炸", "explosion"),
    "L2": ("律师", "lawyer"),
    "L3": ("退款", "refund"),
}
PRIORITY_ORDER = ("L1", "L2", "L3")  # most urgent first

_ZH = (
    "快递三天了还没到",
    "客服态度很好，谢谢",
    "这个版本的界面比以前清爽多了",
    "登录的时候一直转圈",
    "包装有点破损但东西没坏",
    "希望能增加夜间模式",
    "價格有點貴，但品質不錯",
    "訂單狀態一直沒有更新",
)
_EN = (
    "the app keeps crashing on startup",
    "delivery was quick and the box was fine",
    "please add a dark mode",
    "support answered within an hour, thanks",
    "the price went up again this month",
    "cannot change my shipping address",
)


def write_rules(folder: Path) -> Path:
    """A rule file in the minimal format: one alerting keyword rule per priority."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["rules:"]
    for priority, words in ALERT_WORDS.items():
        lines += [
            f"  - id: bench.{priority.lower()}",
            f"    keywords: {{any: [{', '.join(words)}]}}",
            f"    priority: {priority}",
            "    alert: true",
        ]
    path = folder / "rules.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class Workload:
    """What was generated, so a test can state what the database must contain."""

    files: list[Path] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    threads: dict[str, list[str]] = field(default_factory=dict)  # thread -> message ids
    priority: dict[str, str] = field(default_factory=dict)  # message id -> alerting priority

    @property
    def count(self) -> int:
        return len(self.ids)

    def thread_priority(self, thread: str) -> str | None:
        """The most urgent priority among a thread's messages (what its ticket must end up with)."""
        found = {self.priority[m] for m in self.threads[thread] if m in self.priority}
        return next((p for p in PRIORITY_ORDER if p in found), None)


def _text(rng: random.Random, priority: str | None) -> str:
    base = rng.choice(_ZH) if rng.random() < 0.6 else rng.choice(_EN)
    extra = rng.choice(_ZH + _EN)
    if priority is None:
        return f"{base}，{extra}" if rng.random() < 0.5 else f"{base}. {extra}"
    word = rng.choice(ALERT_WORDS[priority])
    return f"{base} {word} {extra}"


def generate(
    folder: Path,
    *,
    messages: int,
    threads: int,
    files: int,
    alert_ratio: float = 0.05,
    seed: int = 1,
) -> Workload:
    """Write ``messages`` JSON lines over ``files`` files; threads are spread across files."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    work = Workload()
    per_file = -(-messages // files)
    thread_names = [f"t{n:05d}" for n in range(threads)]
    for f in range(files):
        path = folder / f"feedback-{f:03d}.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            for n in range(f * per_file, min(messages, (f + 1) * per_file)):
                # the first `threads` messages open every thread once, the rest land anywhere
                thread = thread_names[n] if n < threads else rng.choice(thread_names)
                priority = rng.choice(PRIORITY_ORDER) if rng.random() < alert_ratio else None
                message_id = f"m{n:07d}"
                record: dict[str, Any] = {
                    "id": message_id,
                    "thread": thread,
                    "text": _text(rng, priority),
                    "author": f"u{rng.randrange(10_000)}",
                    "created_at": f"2024-05-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00+08:00",
                }
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                work.ids.append(message_id)
                work.threads.setdefault(thread, []).append(message_id)
                if priority is not None:
                    work.priority[message_id] = priority
        work.files.append(path)
    return work


def write_config(
    path: Path,
    *,
    source: Path,
    rules: Path,
    database: Path,
    sink: Path | None = None,
    batch_size: int = 500,
    instance: str = "yuqing-test",
    interval: float = 0.5,
    settle_seconds: float = 0,
    console: bool = False,
    workers: int | None = None,
) -> Path:
    """A daemon configuration: SQLite, one ``files`` source, a JSONL (and optional console) target;
    ``workers``: ``analysis.workers`` (None: the default, one per core)."""
    targets: list[dict[str, Any]] = []
    if sink is not None:
        targets.append({"name": "sink", "kind": "jsonl", "min_priority": "L3", "jsonl": {"path": str(sink)}})
    if console:
        targets.append({"name": "console", "kind": "console", "min_priority": "L3"})
    config: dict[str, Any] = {
        "instance": instance,
        "state_dir": str(database.parent),
        "database": {"url": f"sqlite:///{database}"},
        "logging": {"level": "info", "format": "json"},
        "rules": {"paths": [str(rules)], "watch_seconds": 60},
        "scheduler": {"jitter_seconds": 0, "outbox_interval_seconds": 0.2, "shutdown_timeout_seconds": 10},
        "sources": [
            {
                "name": "feedback",
                "kind": "files",
                "interval_seconds": interval,
                "batch_size": batch_size,
                "files": {"path": str(source), "settle_seconds": settle_seconds},
            }
        ],
        "alerts": {"targets": targets, "retry_base_seconds": 0.5, "retry_max_seconds": 2},
    }
    if workers is not None:
        config["analysis"] = {"workers": workers}
    # JSON is YAML; no dumper options to get wrong
    path.write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def query(database: Path, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Read the daemon's SQLite database (WAL: safe while it writes); [] before the schema exists."""
    if not database.exists():
        return []
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
    try:
        return connection.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    finally:
        connection.close()


def scalar(database: Path, sql: str, params: Sequence[Any] = ()) -> Any:
    rows = query(database, sql, params)
    return rows[0][0] if rows else None


def sink_ids(sink: Path) -> list[int]:
    """Alert ids in a JSONL sink, one per complete line, in file order (duplicates kept)."""
    if not sink.exists():
        return []
    ids: list[int] = []
    for line in sink.read_bytes().splitlines(keepends=True):
        if line.endswith(b"\n"):
            ids.append(int(json.loads(line)["id"]))
    return ids
