"""Compare what two pipeline runs stored: every table row by row, and every outbox row rendered.

    .venv/bin/python bench/flow_compare.py A.json B.json

``dump_database`` (called by ``bench/flow_cost.py`` in each run's child) writes a SQLite
database's rows as JSON, ordered by primary key, with the timestamps the run itself made
(``now``: ingested_at, opened_at, notify_at ...) masked - everything else must be equal: ids and
ticket codes, priorities, statuses, thread and cluster assignment, incidents, stories, events,
outbox payloads, and each alert rendered in the text and markdown channel formats.
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d+)?(\+00:00|Z)?")
SKIP = ("alembic_version",)


def _masker(since: datetime) -> Any:
    cutoff = (since - timedelta(minutes=5)).replace(tzinfo=None)

    def mask(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            try:
                when = datetime.fromisoformat(f"{match.group(1)} {match.group(2)}")
            except ValueError:
                return match.group(0)
            return "<now>" if when >= cutoff else match.group(0)

        return _STAMP.sub(one, text)

    return mask


def dump_database(path: Path, since: datetime, out: Path) -> None:
    from monitor.alerts.render import render

    mask = _masker(since.astimezone(UTC))
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    tables: dict[str, list[list[Any]]] = {}
    names = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
    for name in names:
        if name in SKIP or name.startswith("sqlite_"):
            continue
        columns = [r[1] for r in connection.execute(f'PRAGMA table_info("{name}")')]
        rows = []
        for row in connection.execute(f'SELECT * FROM "{name}" ORDER BY 1'):
            rows.append([mask(v) if isinstance(v, str) else (v.hex() if isinstance(v, bytes) else v) for v in row])
        tables[name] = [columns, *rows]
    rendered = []
    for alert_id, payload in connection.execute("SELECT id, payload FROM alerts ORDER BY id"):
        value = json.loads(payload)
        rendered.append([alert_id, mask(render("text", value)), mask(render("markdown", value))])
    tables["(rendered alerts)"] = [["id", "text", "markdown"], *rendered]
    connection.close()
    out.write_text(json.dumps(tables, ensure_ascii=False), encoding="utf-8")


def compare_dumps(a: Path, b: Path, *, show: int = 5) -> int:
    """The number of differing rows (and tables present in one dump only); prints the first few."""
    left = json.loads(a.read_text(encoding="utf-8"))
    right = json.loads(b.read_text(encoding="utf-8"))
    differences = 0
    for name in sorted(set(left) | set(right)):
        if name not in left or name not in right:
            print(f"  table {name} only in {'B' if name not in left else 'A'}")
            differences += 1
            continue
        rows_a, rows_b = left[name], right[name]
        if rows_a[0] != rows_b[0]:
            print(f"  {name}: columns differ {rows_a[0]} / {rows_b[0]}")
            differences += 1
            continue
        count = abs(len(rows_a) - len(rows_b))
        shown = 0
        for row_a, row_b in zip(rows_a[1:], rows_b[1:], strict=False):
            if row_a != row_b:
                count += 1
                if shown < show:
                    shown += 1
                    diff = {c: (x, y) for c, x, y in zip(rows_a[0], row_a, row_b, strict=True) if x != y}
                    print(f"  {name} row {row_a[0]}: {str(diff)[:400]}")
        if count:
            print(f"  {name}: {count} differing rows ({len(rows_a) - 1} / {len(rows_b) - 1} rows)")
        differences += count
    return differences


if __name__ == "__main__":
    found = compare_dumps(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"{found} differences")
    raise SystemExit(1 if found else 0)
