"""A disabled target comes back when its configuration changes (start or SIGHUP), not otherwise;
the e-mail check logs in without sending."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message as MessageHandler
from sqlalchemy import select

from monitor.alerts.senders.registry import sender_class
from monitor.alerts.target_state import disable
from monitor.config import load_config
from monitor.runtime import Runtime
from monitor.storage.models import Alert, OperatorProblem, TargetState
from tests.helpers.builders import write_config, write_rules


def write(tmp_path: Path, key: str) -> Path:
    return write_config(
        tmp_path / "c.yaml",
        {
            "state_dir": str(tmp_path),
            "rules": {"paths": [str(write_rules(tmp_path / "rules"))]},
            "alerts": {
                "targets": [
                    {"name": "pr", "kind": "wecom", "wecom": {"key": key, "base_url": "http://127.0.0.1:9"}},
                    {"name": "ops", "kind": "jsonl", "jsonl": {"path": str(tmp_path / "ops.jsonl")}},
                ]
            },
        },
    )


def test_a_changed_configuration_enables_the_target_and_fixes_the_problem(tmp_path: Path) -> None:
    runtime = Runtime(load_config(write(tmp_path, "old-key")))
    runtime.db.upgrade()
    pr = next(t for t in runtime.config.alerts.targets if t.name == "pr")
    assert disable(runtime.db, pr, "HTTP 401", None)
    runtime._sender_rejected("pr", "HTTP 401")
    assert runtime.reconcile_targets() == [], "same configuration: stays disabled"
    runtime.close()

    changed = Runtime(load_config(write(tmp_path, "new-key")), db=runtime.db)
    assert changed.reconcile_targets() == ["pr"]
    assert changed.reconcile_targets() == []
    with changed.db.read() as session:
        assert session.get(TargetState, "pr") is None
        problem = session.get(OperatorProblem, "sender-auth:pr")
        states = [a.payload["state"] for a in session.scalars(select(Alert).where(Alert.target == "ops"))]
    assert problem is not None and problem.state == "fixed"
    assert states == ["open", "fixed"]
    changed.close()


class Auth:
    """An SMTP handler that accepts one user and records messages."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"yuqing", b"right")
        return AuthResult(success=ok)


def test_the_email_check_logs_in_and_sends_nothing() -> None:
    received: list[Any] = []

    class Recording(MessageHandler):
        def handle_message(self, message: Any) -> None:
            received.append(message)

    handler = Recording()
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, authenticator=Auth(), auth_require_tls=False
    )
    controller.start()
    try:

        def check(password: str) -> list[str]:
            cls = sender_class("email")
            settings = {"host": "127.0.0.1", "port": port, "security": "none", "username": "yuqing",
                        "password": password, "from": "y@example.com", "to": ["m@example.com"]}
            return cls("mail", cls.Config.model_validate(settings)).check()

        assert check("right") == []
        (problem,) = check("wrong")  # aiosmtpd answers 535 and drops the line: a disconnect
        assert "127.0.0.1" in problem and "wrong" not in problem
    finally:
        controller.stop()
    assert received == []


def test_alerts_requeued_by_enable_are_sent_even_if_the_guard_saw_the_target_disabled(tmp_path: Path) -> None:
    from monitor.alerts.senders.base import Outcome
    from monitor.alerts.target_state import enable

    runtime = Runtime(load_config(write(tmp_path, "k")))
    runtime.db.upgrade()
    ops = next(t for t in runtime.config.alerts.targets if t.name == "ops")
    assert disable(runtime.db, ops, "HTTP 401", None)
    sender = runtime.senders["ops"]
    payload = {"id": 1, "kind": "operator", "state": "test", "title": "t"}
    assert sender.send(payload).outcome is Outcome.FATAL, "disabled: fails at once"
    assert enable(runtime.db, "ops").was_disabled  # another process, while the guard's cache is fresh
    assert sender.send(payload).outcome is Outcome.OK, "checked again before failing an alert"
    runtime.close()
