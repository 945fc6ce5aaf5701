"""Configuration: every error at once with file:line and key path; secrets from env/files, masked."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors.base import ConnectorConfig
from monitor.cli import main
from monitor.config import load_config
from monitor.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent

BROKEN = """\
instance: test
sources:
  - name: mail
    kind: maildir
    interval_seconds: -1
    maildir:
      path: ./mail
      colour: blue
  - name: chat
    kind: nosuchkind
  - name: files
    kind: files
    files:
      settle_seconds: 2
alerts:
  targets:
    - name: file
      kind: jsonl
      min_priority: L9
      jsonl: {}
unknown_top: 1
"""


def issues_of(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {})
    return [str(i) for i in info.value.issues]


def test_every_error_is_reported_with_line_and_key_path(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    found = issues_of(path)
    name = str(path)
    expected_prefixes = [
        f"{name}:5 sources[0].interval_seconds: Input should be greater than or equal to 0.5",
        f"{name}:8 sources[0].maildir.colour: Extra inputs are not permitted",
        f"{name}:10 sources[1].kind: unknown kind 'nosuchkind'",
        f"{name}:13 sources[2].files.path: Field required",
        f"{name}:19 alerts.targets[0].min_priority: Input should be 'L1', 'L2' or 'L3'",
        f"{name}:20 alerts.targets[0].jsonl.path: Field required",
        f"{name}:21 unknown_top: Extra inputs are not permitted",
    ]
    for prefix in expected_prefixes:
        assert any(f.startswith(prefix) for f in found), f"missing {prefix!r} in {found}"
    assert len(found) == len(expected_prefixes)


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("instance: a\nsources:\n  - name: [unclosed\n", encoding="utf-8")
    (issue,) = issues_of(path)
    assert issue.startswith((f"{path}:4: YAML 语法错误", f"{path}:3: YAML 语法错误"))
    assert "YAML syntax error" in issue


def test_duplicate_keys_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("instance: a\ninstance: b\n", encoding="utf-8")
    (issue,) = issues_of(path)
    assert issue.startswith(f"{path}:2 instance: 重复的键") and "duplicate key" in issue


def test_environment_variables_are_expanded_and_missing_ones_reported(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "instance: ${NAME}\ndatabase:\n  url: ${DB_URL:-sqlite:///x.db}\nstate_dir: ${MISSING}\n",
        encoding="utf-8",
    )
    (issue,) = issues_of(path, {"NAME": "prod"})
    assert issue.startswith(f"{path}:4 state_dir: 环境变量 MISSING 未设置")
    assert "environment variable MISSING is not set" in issue
    config = load_config(path, env={"NAME": "prod", "MISSING": "/srv/yq"})
    assert (config.instance.id, config.database_url, config.state_dir) == (
        "prod",
        "sqlite:///x.db",
        Path("/srv/yq"),
    )


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    path = tmp_path / "etc" / "c.yaml"
    path.write_text("state_dir: ../state\nsources:\n  - {name: m, kind: maildir, maildir: {path: mail}}\n")
    config = load_config(path, env={})
    assert config.state_dir.resolve() == (tmp_path / "state").resolve()
    assert config.sources[0].settings.path == tmp_path / "etc" / "mail"
    assert config.database_url == f"sqlite:///{tmp_path / 'etc' / '../state' / 'yuqing.db'}"


def test_duplicate_source_names_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "sources:\n  - {name: a, kind: maildir, maildir: {path: x}}\n  - {name: a, kind: maildir, maildir: {path: y}}\n"
    )
    assert any("duplicate names a" in i for i in issues_of(path))


class _WithSecret(ConnectorConfig):
    user: str
    password: SecretStr


def test_secrets_come_from_files_and_are_masked(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("hunter2\n", encoding="utf-8")
    config = _WithSecret.model_validate({"user": "u", "password_file": str(secret)})
    assert config.password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(config)
    assert config.masked()["password"] == "**********"


def test_secret_file_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read secret file"):
        _WithSecret.model_validate({"user": "u", "password_file": str(tmp_path / "missing")})
    with pytest.raises(ValueError, match="only one of password, password_file, password_credential"):
        _WithSecret.model_validate({"user": "u", "password": "x", "password_file": "y"})


def test_secrets_come_from_systemd_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "imap-password").write_text("s3cret\n", encoding="utf-8")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    config = _WithSecret.model_validate({"user": "u", "password_credential": "imap-password"})
    assert config.password.get_secret_value() == "s3cret"
    for bad in ("../imap-password", "", ".."):
        with pytest.raises(ValueError, match="is not a credential name"):
            _WithSecret.model_validate({"user": "u", "password_credential": bad})
    with pytest.raises(ValueError, match="cannot read secret file"):
        _WithSecret.model_validate({"user": "u", "password_credential": "absent"})
    with pytest.raises(ValueError, match="only one of"):
        _WithSecret.model_validate({"user": "u", "password_file": "x", "password_credential": "imap-password"})
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    with pytest.raises(ValueError, match="CREDENTIALS_DIRECTORY is not set"):
        _WithSecret.model_validate({"user": "u", "password_credential": "imap-password"})


@pytest.mark.parametrize("name", ["demo.yaml", "yuqing.example.yaml"])
def test_shipped_configurations_are_valid(name: str) -> None:
    config = load_config(ROOT / "config" / name, env={"YUQING_STATE": "/tmp/yq"})
    assert config.sources


def test_check_config_exits_2_and_prints_every_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    with pytest.raises(SystemExit) as info:
        main(["check-config", "--config", str(path)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "7 error(s)" in err
    assert f"{path}:8 sources[0].maildir.colour" in err


def test_check_config_reports_unreachable_sources(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"state_dir: {tmp_path}\nrules: {{paths: [{ROOT / 'rules'}]}}\n"
        "sources:\n  - {name: m, kind: maildir, maildir: {path: nowhere}}\n",
        encoding="utf-8",
    )
    assert main(["check-config", "--config", str(path)]) == 2
    assert "sources.m:" in capsys.readouterr().err
    assert main(["check-config", "--no-connect", "--config", str(path)]) == 0
