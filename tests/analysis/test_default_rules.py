"""The shipped rules: every rule file has a fixture file, and every fixture case passes."""

from __future__ import annotations

import pytest

from monitor.analysis.engine import Engine
from monitor.analysis.fixtures import load_fixtures, run_fixtures
from monitor.analysis.normalize import Normalizer
from monitor.analysis.ruleset import compile_rule_set, rule_files
from tests.analysis.conftest import RULES, message

RULE_FILES = rule_files([RULES])


def test_shipped_rules_compile_without_warnings() -> None:
    rule_set, issues = compile_rule_set([RULES], Normalizer())
    assert rule_set is not None
    assert [str(i) for i in issues] == []


@pytest.mark.parametrize("rule_file", RULE_FILES, ids=[p.name for p in RULE_FILES])
def test_every_rule_file_has_a_fixture_covering_each_rule(rule_file: object) -> None:
    assert hasattr(rule_file, "name")
    fixture = RULES / "fixtures" / rule_file.name  # type: ignore[attr-defined]
    assert fixture.is_file(), f"missing fixture {fixture}"
    cases = load_fixtures(fixture)
    assert cases
    import yaml

    ids = {r["id"] for r in yaml.safe_load(rule_file.read_text(encoding="utf-8"))["rules"]}  # type: ignore[attr-defined]
    covered = {r for case, _ in cases for r in case.expect.rules + case.expect.not_rules}
    assert ids <= covered | _covered_elsewhere(ids), f"rules without a fixture case: {ids - covered}"


def _covered_elsewhere(ids: set[str]) -> set[str]:
    everywhere: set[str] = set()
    for path in (RULES / "fixtures").glob("*.yaml"):
        for case, _ in load_fixtures(path):
            everywhere.update(case.expect.rules + case.expect.not_rules)
    return ids & everywhere


FIXTURE_FILES = sorted((RULES / "fixtures").glob("*.yaml"))


@pytest.mark.parametrize("fixture", FIXTURE_FILES, ids=[p.name for p in FIXTURE_FILES])
def test_fixture_file_passes(default_engine: Engine, fixture: object) -> None:
    results = run_fixtures(default_engine, [fixture])  # type: ignore[list-item]
    failures = [r.report() for r in results if not r.ok]
    assert not failures, "\n".join(failures)


DEFAULT_CASES = [
    ("complaint-traditional", "我要投訴你們", "L2", True),
    ("safety", "电池起火了", "L1", True),
    ("praise-no-alert", "非常满意，谢谢", None, False),
    ("alarm-device-not-police", "烟雾报警器很灵敏", None, False),
    ("hairstyle-not-explosion", "爆炸头", None, False),
]


@pytest.mark.parametrize(
    ("text", "priority", "alert"), [c[1:] for c in DEFAULT_CASES], ids=[c[0] for c in DEFAULT_CASES]
)
def test_default_policy(default_engine: Engine, text: str, priority: str | None, alert: bool) -> None:
    analysis = default_engine(message(text))
    assert (analysis.priority, analysis.alert) == (priority, alert)
