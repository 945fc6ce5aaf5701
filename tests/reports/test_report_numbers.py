"""Every number in the monthly HTML equals ``yuqing stats --json`` and an independent query."""

from __future__ import annotations

import csv
import json
import statistics
from collections import Counter
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from monitor.cli import main
from monitor.reports.render import RATES
from tests.reports.conftest import TICKETS, SeededSite

START, END = "2026-09-30 16:00:00", "2026-10-31 16:00:00"  # October 2026 in UTC+8, as stored (UTC)


class Numbers(HTMLParser):
    """Collects every ``data-m`` element: its path and the text shown (a path may be shown twice)."""

    def __init__(self) -> None:
        super().__init__()
        self.shown: list[tuple[str, str]] = []
        self._open: list[int | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        path = dict(attrs).get("data-m")
        if path:
            self.shown.append((path, ""))
        self._open.append(len(self.shown) - 1 if path else None)

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open and self._open[-1] is not None:
            path, before = self.shown[self._open[-1]]
            self.shown[self._open[-1]] = (path, before + data.strip())

    @property
    def found(self) -> dict[str, str]:
        return dict(self.shown)


def lookup(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def shown(value: float | None, path: str) -> str:
    """How the report prints a value: rates and changes as percentages, the rest as numbers."""
    if value is None:
        return "n/a"
    last = path.rsplit(".", 1)[-1]
    percent = last.endswith("rate") or last in {"change", "week_on_week", "attainment"} or path == "month_on_month.tickets"
    return f"{value * 100:.2f}%" if percent else f"{value:g}"


@pytest.fixture(scope="module")
def outputs(seeded_site: SeededSite, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["-c", str(seeded_site.config), "stats", "--period", "2026-10", "--json"]) == 0
    out = tmp_path_factory.mktemp("report")
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["-c", str(seeded_site.config), "report", "monthly", "--month", "2026-10", "--out", str(out)]) == 0
    return json.loads(buffer.getvalue()), out


def test_the_seed_is_large_enough(seeded_site: SeededSite) -> None:
    assert seeded_site.seeded.tickets == TICKETS >= 50_000
    with seeded_site.database.engine.connect() as conn:
        months = conn.execute(text("SELECT COUNT(DISTINCT strftime('%Y-%m', created_at)) FROM tickets")).scalar_one()
    assert months >= 6


def test_every_number_in_the_html_is_the_stats_json(outputs: tuple[dict[str, Any], Path]) -> None:
    stats, out = outputs
    parser = Numbers()
    parser.feed((out / "monthly-2026-10.html").read_text(encoding="utf-8"))
    assert len(parser.found) > 150
    sections = {path.split(".")[0] for path in parser.found}
    assert {"sla", "satisfaction", "surveys", "recurring", "by", "targets", "keywords"} <= sections
    for path, text_shown in parser.shown:
        value = lookup(stats, path)
        if path.startswith("targets."):
            name = stats["targets"][int(path.split(".")[1])]["name"]
            expected = "n/a" if value is None else (f"{value * 100:.2f}%" if name in RATES else f"{value:g}")
        else:
            expected = shown(value, path)
        assert text_shown == expected, path


def _independent(conn: Any) -> list[dict[str, Any]]:
    """Per ticket of October, by correlated subqueries (not the grouped pass the report uses)."""
    rows = conn.execute(
        text("""
        SELECT t.id, t.channel, t.status, t.priority, t.created_at,
          (SELECT MIN(at) FROM ticket_events e WHERE e.ticket_id = t.id AND e.kind = 'responded') AS responded,
          (SELECT MIN(at) FROM ticket_events e WHERE e.ticket_id = t.id AND e.kind = 'status' AND e.old_value = 'received') AS left_received,
          (SELECT MIN(at) FROM ticket_events e WHERE e.ticket_id = t.id AND e.kind = 'status' AND e.new_value = 'resolved') AS resolved,
          EXISTS (SELECT 1 FROM ticket_events e WHERE e.ticket_id = t.id AND e.kind = 'status'
                  AND e.old_value = 'resolved' AND e.new_value = 'reopened') AS reopened
        FROM tickets t WHERE t.created_at >= :start AND t.created_at < :end
        """),
        {"start": START, "end": END},
    ).all()
    parse = datetime.fromisoformat
    facts = []
    for r in rows:
        created = parse(r.created_at)
        first = r.responded or r.left_received
        facts.append({
            "channel": r.channel, "status": r.status, "priority": r.priority, "created": created,
            "resp": (parse(first) - created).total_seconds() / 3600 if first else None,
            "res": (parse(r.resolved) - created).total_seconds() / 3600 if r.resolved else None,
            "reopened": bool(r.reopened),
        })
    return facts


def _summary(facts: list[dict[str, Any]]) -> dict[str, Any]:
    resp = sorted(f["resp"] for f in facts if f["resp"] is not None)
    res = sorted(f["res"] for f in facts if f["res"] is not None)
    resolved = sum(f["status"] in ("resolved", "closed") for f in facts)
    return {
        "tickets": len(facts),
        "resolution_rate": round(resolved / len(facts), 4),
        "reopen_rate": round(sum(f["reopened"] for f in facts) / len(res), 4),
        "closed_loop_rate": round(sum(f["status"] == "closed" for f in facts) / resolved, 4),
        "first_response": (statistics.fmean(resp), statistics.median(resp), statistics.quantiles(resp, n=10, method="inclusive")[8]),
        "resolution_time": (statistics.fmean(res), statistics.median(res), statistics.quantiles(res, n=10, method="inclusive")[8]),
    }


def _assert_group(group: dict[str, Any], expected: dict[str, Any]) -> None:
    for key in ("tickets", "resolution_rate", "reopen_rate", "closed_loop_rate"):
        assert group[key] == expected[key], key
    for key in ("first_response", "resolution_time"):
        mean, p50, p90 = expected[key]
        got = group[key]
        assert abs(got["mean_hours"] - mean) <= 0.0051 and abs(got["p50_hours"] - p50) <= 0.0051, key
        assert abs(got["p90_hours"] - p90) <= 0.0051, key


def test_stats_equal_an_independent_query(seeded_site: SeededSite, outputs: tuple[dict[str, Any], Path]) -> None:
    stats, _ = outputs
    with seeded_site.database.engine.connect() as conn:
        facts = _independent(conn)
    _assert_group(stats["totals"], _summary(facts))
    for group in stats["by"]["channel"]:
        _assert_group(group, _summary([f for f in facts if f["channel"] == group["key"]]))
    assert sum(g["tickets"] for g in stats["by"]["channel"]) == len(facts)
    open_major = [f for f in facts if f["priority"] in ("L1", "L2") and f["status"] not in ("resolved", "closed")]
    assert stats["unresolved_count"] == len(open_major) > 0
    per_day = Counter((f["created"] + timedelta(hours=8)).date().isoformat() for f in facts)
    assert {b["bucket"]: b["tickets"] for b in stats["daily"]} == dict(per_day)


def test_keywords_and_csv_equal_an_independent_count(seeded_site: SeededSite, outputs: tuple[dict[str, Any], Path]) -> None:
    stats, out = outputs
    with seeded_site.database.engine.connect() as conn:
        analyses = conn.execute(
            text("SELECT analysis FROM messages WHERE created_at >= :start AND created_at < :end"), {"start": START, "end": END}
        ).scalars()
        counts = Counter(word for a in analyses for word in json.loads(a)["keywords"])
    assert [(k["key"], k["count"]) for k in stats["keywords"]] == sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    with open(out / "monthly-2026-10-groups.csv", encoding="utf-8") as handle:
        total = next(csv.DictReader(handle))
    assert int(total["tickets"]) == stats["totals"]["tickets"]
    assert float(total["first_response_p90_h"]) == stats["totals"]["first_response"]["p90_hours"]
    markdown = (out / "monthly-2026-10.md").read_text(encoding="utf-8")
    assert f"工单 tickets: {stats['totals']['tickets']}" in markdown


def test_targets_are_met_or_missed_against_configuration(outputs: tuple[dict[str, Any], Path]) -> None:
    stats, _ = outputs
    verdicts = {t["name"]: (t["target"], t["value"], t["verdict"]) for t in stats["targets"]}

    def verdict(met: bool) -> str:
        return "met" if met else "missed"

    mean = stats["totals"]["first_response"]["mean_hours"]
    assert verdicts["first_response_hours"] == (24.0, mean, verdict(mean <= 24))
    resolution = stats["totals"]["resolution_rate"]
    assert verdicts["resolution_rate"] == (0.95, resolution, verdict(resolution >= 0.95))
    satisfaction = {r["type"]: r for r in stats["satisfaction"]["rows"]}
    complaints = satisfaction["complaint"]["satisfied"] / satisfaction["complaint"]["answers"]
    assert verdicts["complaint_satisfaction"] == (0.9, round(complaints, 4), verdict(complaints >= 0.9))
    overall = sum(r["satisfied"] for r in satisfaction.values()) / sum(r["answers"] for r in satisfaction.values())
    assert verdicts["overall_satisfaction"] == (0.85, round(overall, 4), verdict(overall >= 0.85))
    l1 = [r for r in stats["sla"]["rows"] if r["priority"] == "L1"]
    kept = 1 - sum(r["breached"] for r in l1) / sum(r["tickets"] for r in l1)
    assert verdicts["major_on_time"] == (1.0, round(kept, 4), "missed")  # the seed breaches some L1 clocks
    closed_loop = stats["totals"]["closed_loop_rate"]
    assert verdicts["closed_loop"] == (1.0, closed_loop, verdict(closed_loop >= 1.0))


def test_an_empty_section_says_so_instead_of_a_number(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.reports.compute import month_stats
    from monitor.reports.period import Month
    from monitor.reports.settings import ReportsConfig
    from monitor.storage.db import Database
    from tests.helpers.seed import seed

    db = Database(f"sqlite:///{tmp_path / 'bare.db'}")
    db.upgrade()
    seed(db.engine, 2_000)  # tickets only: no SLA results, answers or surveys yet
    stats = month_stats(db.engine, ReportsConfig(), Month(2026, 10)).to_json()
    db.dispose()
    assert [stats[name]["available"] for name in ("sla", "satisfaction", "surveys")] == [False, False, False]
    assert stats["sla"]["note"].startswith("n/a") and stats["satisfaction"]["note"].startswith("暂无数据")
    verdicts = {t["name"]: t["verdict"] for t in stats["targets"]}
    assert [verdicts[n] for n in ("complaint_satisfaction", "overall_satisfaction", "major_on_time")] == ["n/a"] * 3


def test_sla_satisfaction_and_survey_sections_equal_an_independent_count(
    seeded_site: SeededSite, outputs: tuple[dict[str, Any], Path]
) -> None:
    """The three plug-in sections against raw rows counted here: SLA results of the month's
    tickets, satisfaction and survey answers given in the month (stored UTC text compared)."""
    stats, out = outputs
    with seeded_site.database.engine.connect() as conn:
        tickets = {r.id: r for r in conn.execute(text("SELECT id, created_at, priority, feedback_type FROM tickets"))}
        results = conn.execute(text("SELECT ticket_id, clock, breached FROM sla_results")).all()
        answers = conn.execute(text("SELECT ticket_id, score, at FROM satisfaction")).all()
        surveys = conn.execute(text("SELECT campaign, score, ticket_id, at FROM survey_answers")).all()
    in_month = set()
    for tid, row in tickets.items():
        if START <= row.created_at < END:
            in_month.add(tid)
    sla: Counter[tuple[str, str, str]] = Counter()
    for r in results:
        if r.ticket_id in in_month:
            key = (tickets[r.ticket_id].priority, r.clock)
            sla[(*key, "n")] += 1
            sla[(*key, "breached")] += int(r.breached)
    expected_sla = [
        {"priority": p, "clock": c, "tickets": sla[(p, c, "n")], "breached": sla[(p, c, "breached")],
         "attainment": round(1 - sla[(p, c, "breached")] / sla[(p, c, "n")], 4)}
        for p, c in sorted({(p, c) for p, c, _ in sla})
    ]  # fmt: skip
    assert stats["sla"]["rows"] == expected_sla and len(expected_sla) == 6

    given = [a for a in answers if START <= a.at < END]
    by_type: dict[str, Counter[str]] = {}
    for a in given:
        by_type.setdefault(tickets[a.ticket_id].feedback_type, Counter())[a.score] += 1
    expected_satisfaction = [
        {"type": kind, "answers": sum(c.values()), "satisfied": c["satisfied"], "neutral": c["neutral"],
         "dissatisfied": c["dissatisfied"], "rate": round(c["satisfied"] / sum(c.values()), 4)}
        for kind, c in sorted(by_type.items())
    ]  # fmt: skip
    assert stats["satisfaction"]["rows"] == expected_satisfaction and len(given) > 1_000

    by_campaign: dict[str, Counter[str]] = {}
    for s in surveys:
        if START <= s.at < END:
            counts = by_campaign.setdefault(s.campaign, Counter())
            counts[s.score] += 1
            counts["tickets"] += s.ticket_id is not None
    expected_surveys = [
        {"campaign": name, "answers": c["satisfied"] + c["neutral"] + c["dissatisfied"], "satisfied": c["satisfied"],
         "neutral": c["neutral"], "dissatisfied": c["dissatisfied"], "tickets": c["tickets"],
         "rate": round(c["satisfied"] / (c["satisfied"] + c["neutral"] + c["dissatisfied"]), 4)}
        for name, c in sorted(by_campaign.items())
    ]  # fmt: skip
    assert stats["surveys"]["rows"] == expected_surveys and [r["campaign"] for r in expected_surveys] == ["2026Q3", "2026Q4"]
    with open(out / "monthly-2026-10-sla.csv", encoding="utf-8") as handle:
        assert [int(r["breached"]) for r in csv.DictReader(handle)] == [r["breached"] for r in expected_sla]



def test_stats_table_by_one_dimension(seeded_site: SeededSite, outputs: tuple[dict[str, Any], Path], capsys: pytest.CaptureFixture[str]) -> None:
    stats, _ = outputs
    assert main(["-c", str(seeded_site.config), "stats", "--period", "2026-10", "--by", "priority"]) == 0
    out = capsys.readouterr().out
    assert "按 priority" in out and "按 channel" not in out
    assert str(stats["totals"]["tickets"]) in out
    assert "…" not in out  # piped: whole numbers, never cut with an ellipsis
    total = stats["totals"]
    assert f"{total['resolution_rate'] * 100:.2f}%" in out and f"{total['closed_loop_rate'] * 100:.2f}%" in out
    rows = [[cell.strip() for cell in line.strip().strip("│").split("│")] for line in out.splitlines() if "│" in line]
    for name in ("sla", "satisfaction", "surveys"):
        for row in stats[name]["rows"]:
            cells = [v if isinstance(v, str) else f"{v * 100:.2f}%" if k in ("rate", "attainment") else f"{v:g}" for k, v in row.items()]
            assert cells in rows, name
    target = next(t for t in stats["targets"] if t["name"] == "resolution_rate")
    assert [target["label"], ">= 95.00%", f"{target['value'] * 100:.2f}%", "missed"] in rows  # rates as percentages
    assert "missed" in out  # resolution rate below 95 %


def test_an_empty_month_reports_no_data_instead_of_failing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.reports.conftest import write_site

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    from monitor.storage.db import Database

    Database(url).upgrade()
    config = write_site(tmp_path, url)
    assert main(["-c", str(config), "stats", "--period", "2026-10", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["totals"]["tickets"] == 0 and stats["totals"]["resolution_rate"] is None
    assert {t["verdict"] for t in stats["targets"]} == {"n/a"}
    assert main(["-c", str(config), "report", "monthly", "--month", "2026-10", "--out", str(tmp_path / "out")]) == 0
    assert "n/a" in (tmp_path / "out" / "monthly-2026-10.html").read_text(encoding="utf-8")


def test_read_only_commands_never_create_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.reports.conftest import write_site

    config = write_site(tmp_path, f"sqlite:///{tmp_path / 'missing.db'}")
    assert main(["-c", str(config), "stats", "--period", "2026-10"]) == 2
    assert main(["-c", str(config), "report", "monthly", "--month", "2026-10", "--out", str(tmp_path / "o")]) == 2
    assert main(["-c", str(config), "db", "backup", "--to", str(tmp_path / "b")]) == 2
    assert not (tmp_path / "missing.db").exists()
    assert "数据库不存在" in capsys.readouterr().err


def test_the_report_reads_without_taking_the_write_lock(tmp_path: Path) -> None:
    """A report on the daemon's live SQLite database: its read transaction (a WAL snapshot) is
    open while a writer commits; the writer does not wait for the report, nor the report's
    parallel parts for each other."""
    import sqlite3

    from monitor.reports.compute import _on_own_connection
    from monitor.reports.dialect import Dialect
    from monitor.storage.db import Database
    from tests.helpers.seed import seed

    path = tmp_path / "live.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    seed(db.engine, 200)

    def work(conn: Any) -> int:
        before = int(conn.execute(text("SELECT COUNT(*) FROM tickets")).scalar_one())  # the transaction is open
        writer = sqlite3.connect(path, timeout=0.2, isolation_level=None)
        try:
            writer.execute("BEGIN IMMEDIATE")  # "database is locked" if the report held the write lock
            writer.execute("DELETE FROM tickets WHERE id = 1")
            writer.execute("COMMIT")
        finally:
            writer.close()
        assert int(conn.execute(text("SELECT COUNT(*) FROM tickets")).scalar_one()) == before  # its snapshot
        return before

    assert _on_own_connection(db.engine, Dialect("sqlite", 8), work) == 200
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM tickets")).scalar_one() == 199
    db.dispose()
