"""Staff register hotline calls and in-store feedback; a week's box slips are imported once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.builders import write_config, write_rules
from tests.helpers.daemon import scalar, yuqing

STORES = [{"id": "sh01", "name": "上海南京路店", "boxes": ["SH01-1", "SH01-2"]},
          {"id": "bj02", "name": "北京三里屯店", "boxes": ["BJ02-1"]}]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = write_config(
        tmp_path / "yuqing.yaml",
        {
            "state_dir": str(tmp_path / "state"),
            "rules": {"paths": [str(write_rules(tmp_path / "rules"))]},
            "analysis": {"workers": 1},
            "intake": {"stores": STORES},
            "alerts": {"targets": [{"name": "file", "kind": "jsonl", "jsonl": {"path": str(tmp_path / "alerts.jsonl")}}]},
        },
    )
    assert yuqing("--config", str(path), "db", "upgrade").returncode == 0
    return path


def run(config: Path, *args: str, stdin: str | None = None) -> Any:
    import os
    import subprocess
    import sys

    from tests.helpers.daemon import ROOT

    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", "--config", str(config), *args],
        cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=120, env=dict(os.environ),
    )


def show(config: Path, code: str) -> dict[str, Any]:
    result = run(config, "tickets", "show", code, "--json")
    assert result.returncode == 0, result.stderr
    ticket: dict[str, Any] = json.loads(result.stdout)
    return ticket


def test_a_hotline_call_becomes_an_analysed_routed_ticket(config: Path, tmp_path: Path) -> None:
    result = run(
        config, "tickets", "new", "--channel", "phone", "--text", "紧急：热水器漏电，家里老人差点触电",
        "--customer", "李先生", "--contact", "138-0013-8000", "--actor", "hotline01", "--json",
    )
    assert result.returncode == 0, result.stderr
    code = json.loads(result.stdout)["code"]
    ticket = show(config, code)
    assert (ticket["channel"], ticket["source"], ticket["customer"], ticket["customer_contact"]) == (
        "phone", "staff", "李先生", "138-0013-8000"
    )
    assert ticket["priority"] == "L1"  # the rules ran: 紧急 is L1 in the test rules
    pages = scalar(
        tmp_path / "state" / "yuqing.db",
        f"SELECT COUNT(*) FROM alerts JOIN tickets ON tickets.id = alerts.ticket_id WHERE tickets.code = '{code}'",
    )
    assert pages >= 1  # routed to the targets like any ticket (the outbox row; the daemon sends it)
    sla = run(config, "sla", "show", code)
    assert sla.returncode == 0 and code in sla.stdout


def test_store_feedback_from_stdin_is_validated_against_the_configured_stores(config: Path) -> None:
    result = run(config, "tickets", "new", "--channel", "store", "--store", "sh01", "--type", "建议",
                 "--actor", "clerk", stdin="希望增加试衣间\n")
    assert result.returncode == 0, result.stderr
    ticket = show(config, result.stdout.strip())
    assert ticket["channel"] == "store" and ticket["type"] == "suggestion"
    assert ticket["messages"][0]["text"].strip() == "希望增加试衣间"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--channel", "store", "--text", "x"], "--store"),
        (["--channel", "store", "--store", "gz09", "--text", "x"], "gz09"),
        (["--channel", "box", "--box", "XX-9", "--text", "x"], "XX-9"),
        (["--channel", "box", "--box", "BJ02-1", "--store", "sh01", "--text", "x"], "bj02"),
        (["--channel", "phone", "--text", "x", "--contact", "call me maybe"], "联系方式"),
        (["--channel", "phone", "--text", "x", "--type", "praise"], "类型"),
        (["--channel", "phone", "--text", "   "], "content"),
    ],
    ids=["store-missing", "unknown-store", "unknown-box", "box-of-other-store", "bad-contact", "bad-type", "empty"],
)
def test_registration_fields_are_validated(config: Path, args: list[str], message: str) -> None:
    result = run(config, "tickets", "new", *args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_box_slips_are_imported_once_and_bad_rows_are_quarantined(config: Path, tmp_path: Path) -> None:
    slips = tmp_path / "week48.csv"
    slips.write_text(
        "\ufeff箱号,编号,日期,类型,内容,姓名,联系方式\n"
        "SH01-1,0001,2026-11-23,投诉,收银台排队太久,,\n"
        "SH01-2,0002,2026-11-24,建议,希望周末延长营业,张女士,zhang@example.com\n"
        "ZZ-0,0003,2026-11-24,建议,箱号写错了,,\n"
        "BJ02-1,0004,2026-11-25,咨询,,,\n",
        encoding="utf-8",
    )
    first = run(config, "import", str(slips), "--format", "box-csv")
    assert first.returncode == 1 and "2 new, 0 already imported, 2 quarantined" in first.stderr
    codes = dict(line.split("\t") for line in first.stdout.splitlines())
    ticket = show(config, codes["SH01-2:0002"])
    assert (ticket["channel"], ticket["source"], ticket["customer_contact"]) == ("box", "feedback-box", "zhang@example.com")
    assert ticket["received_at"].startswith("2026-11-24")
    again = run(config, "import", str(slips), "--format", "box-csv")
    assert "0 new, 2 already imported" in again.stderr
    assert dict(line.split("\t") for line in again.stdout.splitlines()) == codes
    quarantined = json.loads(run(config, "quarantine", "list", "--json", "--all").stdout)
    assert sorted(q["reason"].split(":")[0] for q in quarantined if "box-csv" in q["reason"])[:2] == [
        "box-csv line 4", "box-csv line 5"
    ]
