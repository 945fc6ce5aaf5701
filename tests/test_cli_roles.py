"""Roles: every CLI write names its actor, checked against the on-call ``people`` and ``monitor.roles``.

The walk is generated from the parser (like ``test_cli_walk``): every leaf command must be
classified in ``COMMAND_ACTIONS``; every write is refused for a viewer (exit 4, one line naming
the roles that may) and passes the check for the lowest role allowed to do it.
"""

from __future__ import annotations

import argparse
import getpass
import io
import json
from pathlib import Path

import pytest

from monitor.cli import build_parser, main
from monitor.cli_auth import COMMAND_ACTIONS, EXIT_FORBIDDEN, leaves
from monitor.roles import IMPLICIT_ADMIN_WARNING, PERMISSIONS, ROLES, Directory, Person, may, resolve
from tests.helpers.builders import write_config, write_rules

# one person per role; ``nobody`` has no role (a viewer once roles are configured)
PEOPLE = {
    "viewer": "zhao", "agent": "zhang", "supervisor": "chen", "admin": "ops",
}
PLAUSIBLE = {
    "code": "Q000001", "ref": "Q000001", "id": "1", "ids": "1", "text": "紧急：无法登录", "month": "2026-10",
    "status": "processing", "fields": "priority=L2", "reason": "测试 test", "target": "f", "revision": "0000_no_such_revision",
    "path": "nothing-here", "number": "1", "problem": "P1", "new_problem": "登录问题", "resolution": "重置密码",
}


def _oncall(root: Path, *, roles: bool) -> Path:
    path = root / "oncall.yaml"
    people = "".join(
        f"  {pid}: {{name: {pid.title()}, targets: [f]{', role: ' + role if roles else ''}}}\n"
        for role, pid in PEOPLE.items()
    )
    people += "  nobody: {name: Nobody}\n"
    path.write_text(
        "timezone: Asia/Shanghai\npeople:\n" + people
        + "teams:\n  pr:\n    rotations:\n"
        "      - {name: day, role: primary, type: daily, start: 2026-11-02, handoff: '09:00', shift_hours: 9,"
        " members: [zhang]}\n"
        "default_team: pr\n",
        encoding="utf-8",
    )
    return path


def _config(root: Path, *, roles: bool = True, oncall: bool = True) -> Path:
    inbox = root / "inbox"
    inbox.mkdir(exist_ok=True)
    (inbox / "a.jsonl").write_text('{"id": "1", "text": "紧急：无法登录", "thread": "t1"}\n', encoding="utf-8")
    alerts: dict[str, object] = {"targets": [{"name": "f", "kind": "jsonl", "jsonl": {"path": str(root / "a.jsonl")}}]}
    if oncall:
        alerts["oncall"] = str(_oncall(root, roles=roles))
    path = write_config(
        root / "c.yaml",
        {
            "state_dir": str(root / "state"),
            "logging": {"format": "json", "level": "error"},
            "rules": {"paths": [str(write_rules(root / "rules"))]},
            "sources": [{"name": "drop", "kind": "files", "files": {"path": str(inbox), "settle_seconds": 0}}],
            "alerts": alerts,
        },
    )
    assert main(["run", "--once", "--config", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _config(tmp_path_factory.mktemp("roles"))


def _argv(parser: argparse.ArgumentParser) -> list[str]:
    argv: list[str] = []
    for action in parser._actions:
        if action.nargs == 0 or isinstance(action, argparse._HelpAction) or action.dest in ("actor", "config"):
            continue
        value = str(next(iter(action.choices))) if action.choices else PLAUSIBLE.get(action.dest, "x")
        if action.option_strings:
            if action.required:
                argv += [action.option_strings[-1], value]
        else:
            argv.append(value)
    return argv


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 2
    return code, capsys.readouterr().err


WRITES = [
    (command, parser)
    for command, parser in leaves(build_parser())
    if COMMAND_ACTIONS.get(command, "unclassified") is not None
]


def test_every_command_is_classified_and_every_action_is_in_the_table() -> None:
    commands = {command for command, _ in leaves(build_parser())}
    assert sorted(commands - COMMAND_ACTIONS.keys()) == [], "classify new commands in monitor.cli_auth"
    assert {a for a in COMMAND_ACTIONS.values() if a} <= PERMISSIONS.keys()
    assert len(WRITES) >= 20  # ticket, story, quarantine, silence, review, alerts, db, report, import, kb


@pytest.mark.parametrize(("command", "parser"), WRITES, ids=[" ".join(c) for c, _ in WRITES])
def test_a_viewer_is_refused_and_the_lowest_allowed_role_passes(
    command: tuple[str, ...], parser: argparse.ArgumentParser, config: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    argv = ["--config", str(config), *command, *_argv(parser)]
    code, err = _run([*argv, "--actor", "zhao"], capsys)
    assert code == EXIT_FORBIDDEN, err
    assert "permission denied" in err and "无权限" in err and len(err.strip().splitlines()) == 1, err
    action = COMMAND_ACTIONS[command]
    assert action is not None
    lowest = next(role for role in ROLES if may(role, action))
    assert lowest != "viewer"
    code, err = _run([*argv, "--actor", PEOPLE[lowest]], capsys)
    assert code != EXIT_FORBIDDEN and "permission denied" not in err, err
    if lowest != "admin":  # the role below the lowest allowed one is refused too
        below = ROLES[ROLES.index(lowest) - 1]
        code, err = _run([*argv, "--actor", PEOPLE[below]], capsys)
        assert code == EXIT_FORBIDDEN, err


def test_allowed_writes_succeed_and_record_the_person(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    c = ["--config", str(_config(tmp_path))]
    code, err = _run(["tickets", "note", "Q000001", "回电客户", "--actor", "Zhang", *c], capsys)  # by name
    assert code == 0, err
    monkeypatch.setenv("YUQING_ACTOR", "chen")
    code, err = _run(["tickets", "set", "Q000001", "department=售后服务部", "--reason", "转交", *c], capsys)
    assert code == 0, err
    monkeypatch.delenv("YUQING_ACTOR")
    code, err = _run(["ack", "Q000001", "--actor", "zhang", *c], capsys)
    assert code == 0, err
    capsys.readouterr()
    assert main(["tickets", "show", "Q000001", "--json", *c]) == 0
    events = json.loads(capsys.readouterr().out)["events"]
    by_kind = {(e["kind"], e["actor"]) for e in events}
    assert ("note", "zhang") in by_kind
    assert any(kind != "note" and actor == "chen" for kind, actor in by_kind)
    code, err = _run(["tickets", "note", "Q000001", "x", "--actor", "zhao", *c], capsys)
    assert code == EXIT_FORBIDDEN and "agent/supervisor/admin" in err


def test_unknown_actors_and_unmapped_os_users_are_refused(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    c = ["--config", str(config)]
    code, err = _run(["tickets", "note", "Q000001", "x", "--actor", "mallory", *c], capsys)
    assert code == 2 and "unknown person 'mallory'" in err and "zhang (Zhang) [agent]" in err
    monkeypatch.delenv("YUQING_ACTOR", raising=False)
    code, err = _run(["tickets", "note", "Q000001", "x", *c], capsys)  # the OS user is nobody here
    assert code == 2 and f"OS user {getpass.getuser()!r} maps to no person" in err
    code, err = _run(["tickets", "note", "Q000001", "x", "--actor", "nobody", *c], capsys)
    assert code == EXIT_FORBIDDEN and "role viewer" in err, "no role once roles exist: a viewer"


def test_the_os_user_maps_through_people() -> None:
    people = Directory(
        {"ops": Person("ops", "运维", "admin", os_user="yuqing"), "li": Person("li", "李娜", "agent")},
        roles_configured=True,
    )
    assert resolve(people, None, "yuqing").id == "ops"
    assert resolve(people, None, "li").role == "agent"  # a login name equal to a person id
    assert resolve(people, "李娜", "root").id == "li"


def test_without_roles_everyone_is_an_implicit_admin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("YUQING_ACTOR", raising=False)
    path = _config(tmp_path, oncall=False)  # like config/demo.yaml: no on-call file at all
    c = ["--config", str(path)]
    code, err = _run(["tickets", "note", "Q000001", "demo", *c], capsys)
    assert code == 0, err
    code, err = _run(["db", "backup", *c], capsys)
    assert code == 0, err
    capsys.readouterr()
    assert main(["tickets", "show", "Q000001", "--json", *c]) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert notes[-1]["actor"] == f"cli:{getpass.getuser()}"
    code, err = _run(["check-config", "--no-connect", *c], capsys)
    assert code == 0 and IMPLICIT_ADMIN_WARNING in err


def test_people_without_roles_keep_the_old_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(tmp_path, roles=False)
    c = ["--config", str(path)]
    code, err = _run(["db", "backup", "--actor", "zhao", *c], capsys)
    assert code == 0, err  # no roles: admin
    code, err = _run(["tickets", "note", "Q000001", "x", "--actor", "mallory", *c], capsys)
    assert code == 2 and "unknown person 'mallory'" in err, "a named actor is still one of the people"


def test_the_demo_configuration_needs_no_roles() -> None:
    people = Directory({}, roles_configured=False)
    actor = resolve(people, None, "someone")
    assert (actor.id, actor.role) == ("cli:someone", "admin")
