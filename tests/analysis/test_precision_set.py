"""The hand-written precision set (tests/fixtures/precision) and bench/precision.py that scores it.

These tests check the set's shape - schema, unique ids, size, every class with both labels in both
Chinese scripts and both lengths, the composed e-mails up to date - and that the bench runs end to
end. They do not assert accuracy: the bench reports it, and ``--check`` is the gate.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SET_DIR = ROOT / "tests" / "fixtures" / "precision"
BENCH = ROOT / "bench" / "precision.py"
CLASSES = ("complaint", "threat", "outage", "safety", "legal", "media", "evasion", "urgency")
KINDS = {
    "escalate": {"direct", "indirect", "negation_trap", "angry_question", "repost", "evasion"},
    "calm": {
        "negated",
        "compound",
        "question",
        "digits",
        "idiom",
        "praise",
        "agent_reply",
        "neutral",
        "resolved",
    },
}
REQUIRED = {"id", "text", "channel", "script", "class", "label", "kind", "note"}
FILES = sorted(p for p in SET_DIR.glob("*.jsonl") if p.name != "email_cores.jsonl")


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


ITEMS = [item for path in FILES for item in read(path)]


def length(item: dict[str, Any]) -> str:
    return "email" if item["channel"] == "email" else "short"


def schema_problems(item: dict[str, Any]) -> list[str]:
    problems = [f"missing {k}" for k in sorted(REQUIRED - item.keys())]
    problems += [f"unknown field {k}" for k in sorted(item.keys() - REQUIRED - {"title"})]
    if problems:
        return problems
    if not all(isinstance(item[k], str) and item[k].strip() for k in REQUIRED):
        problems.append("every field must be a non-empty string")
    checks = [
        (item["channel"] in {"email", "post", "chat"}, "channel"),
        (item["script"] in {"hans", "hant", "en"}, "script"),
        (item["class"] in CLASSES, "class"),
        (item["label"] in KINDS, "label"),
        (item["kind"] in KINDS.get(item["label"], set()), "kind for this label"),
        (item["id"].startswith(f"{item['class']}-"), "id prefixed by its class"),
    ]
    problems += [f"bad {what}: {item.get(what.split()[0])!r}" for ok, what in checks if not ok]
    if item["channel"] == "email":
        size = len(item["text"].encode("utf-8"))
        if not 1024 <= size <= 4096 or not item.get("title"):
            problems.append(f"e-mail needs a subject and a 1-4 KB body (got {size} bytes)")
    elif not 10 <= len(item["text"]) <= 200 or "title" in item:
        problems.append(f"post/chat needs 10-200 characters and no title (got {len(item['text'])})")
    return problems


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_item_follows_the_schema(path: Path) -> None:
    items = read(path)
    assert items
    bad = {item.get("id", f"line {n}"): p for n, item in enumerate(items, 1) if (p := schema_problems(item))}
    assert bad == {}


def test_schema_check_rejects_broken_items() -> None:
    good = {
        "id": "outage-900",
        "text": "路由器突然断网了，一直连不上",
        "channel": "chat",
        "script": "hans",
        "class": "outage",
        "label": "escalate",
        "kind": "direct",
        "note": "outage",
    }
    assert schema_problems(good) == []
    assert schema_problems({**good, "label": "maybe"}) != []
    assert schema_problems({**good, "kind": "praise"}) != []  # a calm kind on an escalate item
    assert schema_problems({**good, "text": "短"}) != []
    assert schema_problems({**good, "channel": "email", "title": "断网"}) != []  # e-mail under 1 KB
    assert schema_problems({k: v for k, v in good.items() if k != "note"}) == ["missing note"]


def test_set_is_large_enough_with_unique_ids() -> None:
    ids = Counter(item["id"] for item in ITEMS)
    assert len(ITEMS) >= 400
    assert [i for i, n in ids.items() if n > 1] == []
    assert {item["label"] for item in ITEMS} == {"escalate", "calm"}
    assert {item["script"] for item in ITEMS} == {"hans", "hant", "en"}


@pytest.mark.parametrize("cls", CLASSES, ids=CLASSES)
def test_every_class_has_both_labels_in_both_scripts_and_lengths(cls: str) -> None:
    items = [i for i in ITEMS if i["class"] == cls]
    cells = Counter((i["script"], length(i), i["label"]) for i in items)
    missing = [
        (script, size, label)
        for script in ("hans", "hant")
        for size in ("short", "email")
        for label in ("escalate", "calm")
        if not cells[(script, size, label)]
    ]
    assert len(items) >= 20
    assert missing == []


def test_composed_emails_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(SET_DIR / "compose_email.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def run_bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH), *args], cwd=ROOT, capture_output=True, text=True, timeout=240
    )


def test_bench_prints_tables_for_a_slice() -> None:
    result = run_bench("--limit", "3", "--by", "class", "--by", "script", "--by", "channel", "--errors")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    n = 3 * len(FILES)  # --limit 3: the first 3 items of every file
    assert f"precision set: {n} items" in out
    for cls in CLASSES:
        assert f"| {cls} |" in out
    for heading in ("by class", "by script", "by channel", "missed escalations", "false escalations"):
        assert heading in out
    assert out.count(f"| **overall** | {n} |") == 3


def test_bench_json_and_check_agree() -> None:
    result = run_bench("--limit", "2", "--json", "--check", "--by", "length")
    data = json.loads(result.stdout)
    overall = data["breakdowns"]["length"]["yuqing"]["overall"]
    assert overall["n"] == 2 * len(FILES)
    assert set(data["breakdowns"]["length"]["naive"]) == {"short", "email", "overall"}
    assert result.returncode == (1 if data["check"] else 0)


def write_set(directory: Path, rows: list[dict[str, str]]) -> Path:
    directory.mkdir()
    lines = [
        json.dumps({"channel": "chat", "script": "hans", "note": "-", **r}, ensure_ascii=False) for r in rows
    ]
    (directory / "mini.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


GATE_CASES = [
    # (case id, label given to an explicit complaint the default rules escalate, expected exit code)
    ("targets-met", "escalate", 0),
    ("calm-item-escalated", "calm", 1),
]


@pytest.mark.parametrize(("label", "exit_code"), [c[1:] for c in GATE_CASES], ids=[c[0] for c in GATE_CASES])
def test_check_gate_fails_on_false_escalation(tmp_path: Path, label: str, exit_code: int) -> None:
    rows = [
        {
            "id": "safety-1",
            "text": "充电宝在床上起火了，被子都烧了",
            "class": "safety",
            "label": "escalate",
            "kind": "direct",
        },
        {
            "id": "complaint-1",
            "text": "我要投诉你们，今天必须给我处理",
            "class": "complaint",
            "label": label,
            "kind": "direct" if label == "escalate" else "negated",
        },
        {
            "id": "complaint-2",
            "text": "非常满意，谢谢你们的服务",
            "class": "complaint",
            "label": "calm",
            "kind": "praise",
        },
    ]
    result = run_bench("--set", str(write_set(tmp_path / "set", rows)), "--check")
    assert result.returncode == exit_code, result.stdout + result.stderr
    assert ("false escalation 0.500 > 0.05" in result.stdout) == (exit_code == 1)


def test_split_partitions_the_set_into_dev_and_holdout() -> None:
    counts: dict[str, int] = {}
    for split in ("dev", "holdout", "all"):
        data = json.loads(run_bench("--split", split, "--json", "--limit", "6").stdout)
        counts[split] = data["breakdowns"]["class"]["yuqing"]["overall"]["n"]
    assert counts["dev"] > 0 and counts["holdout"] > 0
    assert counts["dev"] + counts["holdout"] == counts["all"]
