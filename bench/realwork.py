"""Real-work rows for ``bench/pipeline.py`` (issue 16): the DEFAULT rules (``rules/``) on long
complaint mail from a Maildir and on short posts, next to same-run ceilings.

* ``mail-pipeline-wN``  ``poll_source`` over a Maildir of generated long mails
  (``tests/helpers/mailbox.py``: ~1,900 chars of text, UTF-8/GBK/GB2312-labelled GBK/Big5, HTML
  alternatives, attachments) into SQLite with the default rules and ``analysis.workers: N``;
  records each batch's duration (first vs last: flat?) and the peak RSS of the daemon process
  and of the whole process tree (workers included);
* ``mail-parse``        the Maildir connector alone (read + parse to Messages): the parse ceiling;
* ``mail-segment``      one raw ``jieba.lcut(text, HMM=False)`` pass over the parsed texts (title and
  body, as analysis sees them): the segmentation ceiling the issue measures against;
* ``posts-pipeline-wN`` / ``posts-segment``: the same on the short generated feedback posts.
"""

from __future__ import annotations

import json
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SOURCE = "feedback"


def mailbox(base: Path, size: int) -> Path:
    """The Maildir of ``size`` generated mails, cached across runs (the generator is slow)."""
    from tests.helpers.mailbox import write_maildir

    folder = Path(tempfile.gettempdir()) / f"yuqing-bench-mailbox-{size}"
    done = folder / ".complete"
    if not done.exists():
        write_maildir(folder, size)
        done.write_text(str(size))
    return folder


def _config(data: Path, kind: str, source: Path, batch_size: int, workers: int) -> Path:
    run = Path(tempfile.mkdtemp(prefix="real-", dir=data))
    section = {"path": str(source)} if kind == "maildir" else {"path": str(source), "settle_seconds": 0}
    config = {
        "instance": "bench",
        "state_dir": str(run),
        "database": {"url": f"sqlite:///{run / 'yuqing.db'}"},
        "logging": {"level": "warning", "format": "json"},
        "rules": {"paths": [str(ROOT / "rules")]},
        "analysis": {"workers": workers},
        "sources": [{"name": SOURCE, "kind": kind, "batch_size": batch_size, kind: section}],
        "alerts": {"targets": [{"name": "sink", "kind": "jsonl", "min_priority": "L3",
                                "jsonl": {"path": str(run / "alerts.jsonl")}}]},
    }
    path = run / "yuqing.yaml"
    path.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return path


def _tree_peak_kb() -> int:
    """Peak RSS of this process and, separately counted, its largest waited-for child."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return int(own + children)


def pipeline(data: Path, source: Path, kind: str, batch_size: int, workers: int) -> dict[str, Any]:
    from sqlalchemy import func, select

    from monitor.config import load_config
    from monitor.message import Message
    from monitor.pipeline import PollStats, poll_source
    from monitor.runtime import Runtime
    from monitor.storage.models import Ticket

    runtime = Runtime(load_config(_config(data, kind, source, batch_size, workers)))
    runtime.db.upgrade_in_child()  # as `yuqing run` does
    from datetime import UTC, datetime

    warm = Message(SOURCE, "warm-up", "warm-up", "预热 投诉 warm up", datetime.now(UTC))
    runtime.rules.current()(warm)  # jieba's dictionary, sentiment model: loaded before the clock
    if runtime.pool is not None:
        runtime.pool.analyse(runtime.rules.current(), [warm])
    batches: list[float] = []
    mark = [time.perf_counter()]

    def on_batch(_stats: PollStats) -> None:
        now = time.perf_counter()
        batches.append(now - mark[0])
        mark[0] = now

    cpu = _cpu_seconds()
    started = mark[0] = time.perf_counter()
    stats = poll_source(runtime.context, SOURCE, runtime.connectors[SOURCE], batch_size=batch_size, on_batch=on_batch)
    seconds = time.perf_counter() - started
    workers_kb = 0
    if runtime.pool is not None:
        workers_kb = sum(_vm_hwm(pid) for pid in runtime.pool.pids())
    with runtime.db.read() as session:
        tickets = session.scalar(select(func.count()).select_from(Ticket))
    runtime.close()  # waits for the workers: their CPU time is then in RUSAGE_CHILDREN
    return {
        "cpu": _cpu_seconds() - cpu,
        "messages": stats.new,
        "seconds": seconds,
        "tickets": tickets,
        "first_batch": batches[0] if batches else 0.0,
        "last_batch": batches[-2] if len(batches) > 2 else (batches[-1] if batches else 0.0),
        "workers_kb": workers_kb,
    }


def _cpu_seconds() -> float:
    """User + system CPU of this process and its waited-for children (the analysis workers):
    the work done, which - unlike msg/s - does not depend on how busy the machine is."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _vm_hwm(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return 0


def _parsed(source: Path, kind: str) -> list[Any]:
    from connectors.registry import connector_class

    section: dict[str, Any] = {"path": str(source)}
    if kind == "files":
        section["settle_seconds"] = 0
    cls = connector_class(kind)
    connector = cls(SOURCE, cls.Config.model_validate(section))
    return [m for batch in connector.fetch(None, batch_size=1000) for m in batch.messages]


def parse(source: Path, kind: str) -> dict[str, Any]:
    started, cpu = time.perf_counter(), _cpu_seconds()
    count = len(_parsed(source, kind))
    return {"messages": count, "seconds": time.perf_counter() - started, "cpu": _cpu_seconds() - cpu}


def segment(source: Path, kind: str) -> dict[str, Any]:
    import jieba

    texts = [f"{m.title} {m.text}" for m in _parsed(source, kind)]
    jieba.lcut("预热", HMM=False)  # the dictionary loads outside the clock
    started, cpu = time.perf_counter(), _cpu_seconds()
    tokens = sum(len(jieba.lcut(text, HMM=False)) for text in texts)
    return {"messages": len(texts), "seconds": time.perf_counter() - started, "cpu": _cpu_seconds() - cpu,
            "tokens": tokens,
            "chars": sum(map(len, texts)) / max(1, len(texts))}
