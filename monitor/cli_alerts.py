"""``yuqing alerts test|enable|problems``: try a target now, switch a disabled one back on, list
the operator's open problems."""

from __future__ import annotations

import argparse
import sys
import time

from monitor.cli import EXIT_CONFIG, load_or_exit
from monitor.config import AppConfig
from monitor.storage.db import Database
from monitor.targets import TargetConfig

EXIT_FAILED = 1


def _target(config: AppConfig, name: str) -> TargetConfig:
    target = next((t for t in config.alerts.targets if t.name == name), None)
    if target is None:
        known = ", ".join(t.name for t in config.alerts.targets) or "-"
        print(f"未知的告警目标 unknown alert target {name!r}; 已配置 configured: {known}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG)
    return target


def cmd_test(args: argparse.Namespace) -> int:
    """Send one test message through the target's sender now (not through the outbox)."""
    from monitor.alerts.operator_notice import OperatorNotice
    from monitor.alerts.senders.base import Outcome
    from monitor.alerts.senders.registry import sender_class
    from monitor.storage.models import utcnow

    config = load_or_exit(args)
    target = _target(config, args.target)
    sender = sender_class(target.kind)(target.name, target.settings)
    now = utcnow()
    notice = OperatorNotice(
        problem=f"test:{target.name}",
        state="test",
        title=f"yuqing 测试消息 test message for target {target.name} ({target.kind})",
        errors=(),
        since=now,
        hint="收到即说明配置正确 If you can read this, the target works.",
    )
    stamp = int(time.time() * 1000)
    payload = {**notice.payload(), "id": -stamp, "target": target.name, "idempotency_key": f"test:{target.name}:{stamp}"}
    try:
        result = sender.send(payload)
    finally:
        sender.close()
    if result.outcome is Outcome.OK:
        print(f"{target.name}: 已发送 sent")
        return 0
    print(f"{target.name}: 失败 failed ({result.outcome.value}): {result.detail}", file=sys.stderr)
    if result.outcome is Outcome.AUTH:
        print("  凭据或地址被拒绝 credentials or hook URL rejected: check the key/token/URL", file=sys.stderr)
    return EXIT_FAILED


def cmd_enable(args: argparse.Namespace) -> int:
    """Switch a target disabled after an auth failure back on; tell the operators it is fixed."""
    from monitor.alerts.target_state import enable
    from monitor.stories.operator import OperatorProblems

    config = load_or_exit(args)
    target = _target(config, args.target)
    db = Database(config.database_url)
    db.upgrade()
    result = enable(db, target.name)
    if not result.was_disabled:
        print(f"{target.name}: 未停用 not disabled")
        return 0
    problems = OperatorProblems(db, lambda: [t for t in config.alerts.targets if t.enabled])
    problems.fixed(f"sender-auth:{target.name}")
    print(f"{target.name}: 已启用 enabled; 重新排队 re-queued {result.requeued} alert(s)")
    return 0


def cmd_problems(args: argparse.Namespace) -> int:
    from monitor.stories.operator import OperatorProblems

    config = load_or_exit(args)
    db = Database(config.database_url)
    db.upgrade()
    rows = OperatorProblems(db, lambda: []).open_problems()
    for row in rows:
        print(f"{row.key}  自 since {row.opened_at:%Y-%m-%d %H:%M}Z  {row.title}")
        for error in row.errors:
            print(f"  - {error}")
    if not rows:
        print("没有未解决的问题 no open problems")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    alerts = sub.add_parser("alerts", help="alert targets: test, enable, operator problems")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True)
    test = alerts_sub.add_parser("test", help="send a test message through TARGET now; exit 1 if it fails")
    test.add_argument("target")
    test.set_defaults(func=cmd_test)
    enable = alerts_sub.add_parser("enable", help="re-enable TARGET after it was disabled for rejecting credentials")
    enable.add_argument("target")
    enable.set_defaults(func=cmd_enable)
    problems = alerts_sub.add_parser("problems", help="list open operator problems with all their errors")
    problems.set_defaults(func=cmd_problems)
