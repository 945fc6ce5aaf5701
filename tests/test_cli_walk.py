"""Every subcommand, fed bad values, answers with one clear line and an exit code — never a traceback.

The walk is generated from the parser itself, so a command added later is walked too. For each
leaf command, each argument that takes a value gets every value of ``BAD`` in turn while the
other required arguments get plausible ones. Commands run in-process against a real configured
database (the daemon ran once over a small inbox first).
"""

from __future__ import annotations

import argparse
import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from monitor.cli import build_parser, main
from monitor.cli_auth import leaves
from tests.helpers.builders import write_config, write_rules

BAD = ("", "nope", "-1", "0", "99999999999999999999", "2026-12-24T25:00", "tomorrow", "../../etc/passwd", "Q999999")
# Plausible values for required arguments that are not under test, by destination name.
PLAUSIBLE = {"code": "Q000001", "ref": "Q000001", "id": "1", "ids": "1", "text": "紧急：无法登录"}
# Long-running commands with no value to feed are not walked (``run`` without --once serves forever).
NOT_WALKED = {("run",)}


@dataclass(frozen=True)
class Case:
    command: tuple[str, ...]
    argv: tuple[str, ...]

    @property
    def id(self) -> str:
        return " ".join((*self.command, *self.argv))[:80]


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0 and not isinstance(action, (argparse._HelpAction, argparse._VersionAction)) and "--config" not in action.option_strings


def _plausible(action: argparse.Action) -> str:
    if action.choices:
        return str(next(iter(action.choices)))
    return PLAUSIBLE.get(action.dest, "x")


def _argv_for(parser: argparse.ArgumentParser, target: argparse.Action, value: str) -> list[str]:
    argv: list[str] = []
    for action in parser._actions:
        if not _takes_value(action):
            continue
        given = value if action is target else None
        if action.option_strings:
            if given is not None:
                argv += [action.option_strings[-1], given]
            elif action.required:
                argv += [action.option_strings[-1], _plausible(action)]
        else:
            argv.append(given if given is not None else _plausible(action))
    return argv


def cases() -> list[Case]:
    found: list[Case] = []
    for command, parser in leaves(build_parser()):
        if command in NOT_WALKED:
            continue
        for action in parser._actions:
            if not _takes_value(action) or action.choices:
                continue  # argparse itself refuses values outside ``choices``
            for value in BAD:
                found.append(Case(command, tuple(_argv_for(parser, action, value))))
    return found


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("walk")
    inbox = root / "inbox"
    inbox.mkdir()
    (inbox / "a.jsonl").write_text(
        '{"id": "1", "text": "紧急：无法登录", "thread": "t1"}\n{"id": "2", "text": "thanks", "thread": "t2"}\n',
        encoding="utf-8",
    )
    oncall = root / "oncall.yaml"
    oncall.write_text(
        "timezone: Asia/Shanghai\n"
        "people:\n  zhang: {name: 张伟, targets: [f]}\n  li: {name: 李娜, targets: [f]}\n"
        "teams:\n  pr:\n    rotations:\n"
        "      - {name: day, role: primary, type: daily, start: 2026-11-02, handoff: '09:00', shift_hours: 9,"
        " members: [zhang, li]}\n"
        "    escalation:\n      - {notify: primary}\n"
        "default_team: pr\n",
        encoding="utf-8",
    )
    path = write_config(
        root / "c.yaml",
        {
            "state_dir": str(root / "state"),
            "logging": {"format": "json", "level": "error"},
            "rules": {"paths": [str(write_rules(root / "rules"))]},
            "sources": [{"name": "drop", "kind": "files", "files": {"path": str(inbox), "settle_seconds": 0}}],
            "alerts": {
                "targets": [{"name": "f", "kind": "jsonl", "jsonl": {"path": str(root / "a.jsonl")}}],
                "oncall": str(oncall),
            },
        },
    )
    assert main(["run", "--once", "--config", str(path)]) == 0
    return path


def _said(text: str) -> list[str]:
    """The non-empty lines of ``text`` that are not argparse's (possibly wrapped) usage block."""
    said: list[str] = []
    in_usage = False
    for line in text.splitlines():
        in_usage = line.startswith("usage:") or (in_usage and line[:1].isspace())
        if line.strip() and not in_usage:
            said.append(line)
    return said


@pytest.mark.parametrize("case", cases(), ids=lambda c: c.id)
def test_bad_values_give_one_clear_line(
    case: Case, config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # relative junk paths resolve inside an empty folder
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # commands that read stdin get end of input
    try:
        code = main(["--config", str(config), *case.command, *case.argv])
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, out + err
    assert code in (0, 1, 2, 3), (code, err)
    if code != 0:
        # a refusal is said on stderr; a report that found problems (rules lint) may be on stdout
        messages = _said(err) or _said(out)
        assert messages, f"exit {code} without saying why"
        assert len(_said(err)) <= 3, err  # one line (plus, at most, the items it lists)
