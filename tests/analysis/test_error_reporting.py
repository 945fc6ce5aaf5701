"""The same Chinese-first messages in ``check-config``, the daemon's rule reload and ``rules test``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from monitor.cli import main
from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.runtime import RulesHolder
from monitor.storage.db import Database
from tests.helpers.builders import write_config, write_rules

BAD = "rules:\n  - id: bad\n    regex: ['(?<=退)款']\n    keywords:\n      any: [x]\n"


def config_in(tmp_path: Path) -> Path:
    rules = write_rules(tmp_path / "rules")
    return write_config(
        tmp_path / "yuqing.yaml",
        {
            "state_dir": str(tmp_path / "state"),
            "rules": {"paths": [str(rules)]},
            "alerts": {
                "targets": [{"name": "file", "kind": "jsonl", "jsonl": {"path": str(tmp_path / "a.jsonl")}}]
            },
        },
    )


def test_check_config_explains_rule_errors_and_re2_stays_quiet(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    config = config_in(tmp_path)
    (tmp_path / "rules" / "bad.yaml").write_text(BAD, encoding="utf-8")
    assert main(["check-config", "--no-connect", "--config", str(config)]) == 2
    err = capfd.readouterr().err  # file descriptor 2, where RE2's C++ logging would land
    assert "规则或配置无效 rules or configuration invalid（1 个错误 error(s)）" in err
    assert (
        f"{tmp_path / 'rules' / 'bad.yaml'}:3 rules[0].regex[0]: RE2 正则表达式错误：RE2 不支持向后查找"
        in err
    )
    assert "提示 hint:" in err and "re2.cc" not in err and "absl" not in err


def test_a_failed_rule_reload_logs_chinese_first_with_file_and_line(tmp_path: Path) -> None:
    config_path = config_in(tmp_path)
    daemon = Daemon(config_path, load_config(config_path))
    Database(daemon.runtime.config.database_url).upgrade()
    bad = tmp_path / "rules" / "bad.yaml"
    bad.write_text(
        "rules:\n  - id: bad\n    keywords:\n      any：[退款]\n      none: [x]\n", encoding="utf-8"
    )
    os.utime(bad, (1, 1))  # a different mtime than anything before: the watcher sees a change
    with capture_logs() as events:
        daemon.check_rules()
    invalid = [e for e in events if e["event"] == "rules_invalid"]
    assert [(e["file"], e["line"]) for e in invalid] == [(str(bad), 4)]
    assert invalid[0]["issue"].startswith(
        f"{bad}:4: YAML 语法错误：这里不能出现 “键: 值”——第 4 行用了全角冒号"
    )
    assert "YAML 在第 5 行才报错" in invalid[0]["issue"]
    (kept,) = [e for e in events if e["event"] == "rules_kept"]
    assert kept["message"].startswith("规则文件有 1 个错误，继续使用旧规则")
    assert "yuqing rules lint" in kept["message"]
    daemon.runtime.close()


def test_rules_test_reports_fixture_schema_errors_in_chinese(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = write_rules(tmp_path / "rules")
    (rules / "fixtures").mkdir()
    (rules / "fixtures" / "test.yaml").write_text(
        "cases:\n  - text: 我要投诉\n    expect: {rules: [t.complaint], priority: P2}\n", encoding="utf-8"
    )
    assert main(["rules", "test", "--rules", str(rules)]) == 2
    err = capsys.readouterr().err
    assert "测试样例无效 fixtures are invalid（1 个错误 error(s)）" in err
    assert "cases[0].expect.priority: 取值只能是 'L1', 'L2' or 'L3'" in err


SLIP = "rules:\n  - id: food\n    keywords: {any: [拉肚子，腹泻]}\n    priority: L1\n"


def test_check_config_warns_about_dead_keywords(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    config = config_in(tmp_path)
    (tmp_path / "rules" / "food.yaml").write_text(SLIP, encoding="utf-8")
    assert main(["check-config", "--no-connect", "--config", str(config)]) == 0
    err = capfd.readouterr().err
    assert (
        f"警告 warning: {tmp_path / 'rules' / 'food.yaml'}:3 rules[0].keywords.any[0]: 关键词 “拉肚子，腹泻”"
        in err
    )
    assert "any: [拉肚子, 腹泻]" in err


def test_loading_and_reloading_rules_logs_ime_slips(tmp_path: Path) -> None:
    rules = write_rules(tmp_path / "rules")
    with capture_logs() as events:
        holder = RulesHolder.load([rules])
    assert not [e for e in events if e["event"] == "rules_warning"]
    food = rules / "food.yaml"
    food.write_text(SLIP, encoding="utf-8")
    os.utime(food, (1, 1))
    with capture_logs() as events:
        assert holder.reload_if_changed() is None
    (warning,) = [e for e in events if e["event"] == "rules_warning"]
    assert (warning["file"], warning["line"], warning["log_level"]) == (str(food), 3, "warning")
    assert "里有分隔符「，」" in warning["issue"]
