"""Cost of the ``housekeeping:sla`` job (``monitor.stories.sla.run_sla``) over many open tickets.

The same seed as ``bench/sla_due.py`` (N open tickets over 30 days, ~5 events each), then times:

- baseline: reading every open ticket and its events (the same queries, no clocks);
- the job's first run: due notices, each warning queued to the route, each breach opened as an
  ``sla`` story and paged (breaches due more than a day ago summed up for the operator instead),
  ``sla_results`` written for every clock;
- the job one minute later (the steady state: nothing new, results only where a state changed).

Run: .venv/bin/python bench/sla_job.py [--tickets 10000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.sla_due import NOW, baseline, seed, timed
from monitor.sla.settings import CalendarsConfig, SlaConfig
from monitor.storage.db import Database
from monitor.stories.routes import RouteConfig
from monitor.stories.settings import build_settings
from monitor.stories.sla import run_sla
from monitor.targets import TargetConfig
from monitor.tickets.incident_settings import IncidentsConfig


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=10_000)
    args = parser.parse_args()
    targets = [TargetConfig(name="pager", kind="webhook")]
    stories = build_settings(RouteConfig(receivers=["pager"], group_wait=0), targets, IncidentsConfig(), None)

    def job(minutes: int) -> str:
        run = run_sla(db, stories, SlaConfig(), CalendarsConfig(), now=NOW + timedelta(minutes=minutes))
        return f"{run.warnings}w/{run.breaches}b/{run.results}r"

    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{folder}/bench.db")
        db.upgrade()
        seed(db, args.tickets)
        results = [timed("baseline: read tickets + events", lambda: baseline(db))]
        results.append(timed("sla job, first run", lambda: job(0)))
        results.append(timed("sla job, a minute later", lambda: job(1)))
        db.dispose()
    base = results[0][1]
    print(f"{args.tickets:,} open tickets, SQLite (result: warnings/breaches paged/result rows written)")
    print(f"{'step':<34} {'seconds':>8} {'x baseline':>10} {'result':>16}")
    for label, seconds, result in results:
        print(f"{label:<34} {seconds:>8.2f} {seconds / base:>10.1f} {result!s:>16}")


if __name__ == "__main__":
    main()
