"""``yuqing status`` reads what the daemon persisted: last success, lag, errors, disabled-by-auth, outbox."""

from __future__ import annotations

import json
from pathlib import Path

from monitor.errors import AuthError, UnavailableError
from tests.helpers.daemon import yuqing
from tests.test_daemon_source_failures import Failing, make_daemon


def test_status_shows_each_source_and_the_outbox_from_another_process(tmp_path: Path) -> None:
    daemon = make_daemon(tmp_path)
    runtime = daemon.runtime
    good = runtime.connectors["bad"]
    runtime.connectors["bad"] = Failing(good, AuthError("imap: LOGIN failed [AUTHENTICATIONFAILED]"))  # type: ignore[arg-type]
    sources = {s.name: s for s in runtime.config.sources}
    daemon.poll(sources["good"])
    daemon.poll(sources["bad"])
    config = str(tmp_path / "c.yaml")

    done = yuqing("--config", config, "status", "--json")
    table = yuqing("--config", config, "status")

    assert done.returncode == 1, done.stderr  # a source is not fine
    report = json.loads(done.stdout)
    by_name = {s["source"]: s for s in report["sources"]}
    assert by_name["good"]["state"] == "ok" and by_name["good"]["last_success"] is not None
    assert by_name["good"]["lag_s"] is not None and by_name["good"]["lag_s"] < 60
    assert by_name["good"]["failures"] == 0 and by_name["good"]["last_error"] is None
    bad = by_name["bad"]
    assert bad["state"] == "disabled" and "AUTHENTICATIONFAILED" in bad["disabled"]
    assert bad["failures"] == 1 and bad["failing_since"] is not None and bad["last_success"] is None
    # the page for good's urgent message and the operator alert about "bad" wait (nothing delivered)
    assert report["outbox"]["depth"] == 2 and report["outbox"]["oldest_age_s"] is not None
    assert table.returncode == 1 and "disabled" in table.stdout and "good" in table.stdout
    assert "outbox: 2 pending" in table.stdout


def test_status_shows_a_recovered_source_as_ok_and_errors_of_a_failing_one(tmp_path: Path) -> None:
    daemon = make_daemon(tmp_path)
    runtime = daemon.runtime
    good = runtime.connectors["bad"]
    runtime.connectors["bad"] = Failing(good, UnavailableError("imap: connection refused"))  # type: ignore[arg-type]
    sources = {s.name: s for s in runtime.config.sources}
    daemon.poll(sources["good"])
    daemon.poll(sources["bad"])
    failing = json.loads(yuqing("--config", str(tmp_path / "c.yaml"), "status", "--json").stdout)
    runtime.connectors["bad"] = good
    daemon.poll(sources["bad"])
    done = yuqing("--config", str(tmp_path / "c.yaml"), "status", "--json")

    bad_then = {s["source"]: s for s in failing["sources"]}["bad"]
    assert bad_then["state"] == "failing" and "connection refused" in bad_then["last_error"]
    assert done.returncode == 0, done.stdout
    bad_now = {s["source"]: s for s in json.loads(done.stdout)["sources"]}["bad"]
    assert bad_now["state"] == "ok" and bad_now["failures"] == 0 and bad_now["last_success"] is not None
