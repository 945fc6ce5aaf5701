"""The operator notice: a typed record of one operator problem (opened, fixed or a test message)
and its rendering for every channel format, in one place.

The outbox stores ``OperatorNotice.payload()`` (a JSON dict, as every alert row); the renderers
turn a payload of kind ``operator`` back into the record and lay it out. The error lines shown
come from ``excerpt`` (one error per line), which the outbox masks for group chats; ``errors``
keeps the full list for tools that read rows.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

KIND = "operator"
MAX_LINES = 30  # errors listed in one message; the rest is counted (all are stored)
HEADINGS = {
    "open": "【运维问题 Operator problem】",
    "fixed": "【已修复 Fixed】",
    "test": "【测试 Test】",
}


class OperatorNotice(BaseModel):
    """One notice about an operator problem. ``problem`` is its key (``rules:<file>``,
    ``source-auth:<source>``, ``sender-auth:<target>``, ``source-path:<source>``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    problem: str
    state: Literal["open", "fixed", "test"]
    title: str
    errors: tuple[str, ...] = ()
    since: datetime | None = None
    hint: str = ""

    def payload(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "reason": f"operator problem {self.state}",
            "priority": "L2",
            "problem": self.problem,
            "state": self.state,
            "title": self.title,
            "errors": list(self.errors),
            "excerpt": "\n".join(self.errors),
            "since": self.since.isoformat() if self.since else None,
            "hint": self.hint,
        }


def _lines(payload: dict[str, Any]) -> list[str]:
    """The notice as plain lines (heading first), from the possibly masked payload."""
    state = str(payload.get("state") or "open")
    errors = [e for e in str(payload.get("excerpt") or "").split("\n") if e]
    lines = [f"{HEADINGS.get(state, HEADINGS['open'])}{payload.get('title') or ''}"]
    if errors:
        label = "错误已解决 Errors resolved" if state == "fixed" else "错误 Errors"
        lines.append(f"{label} ({len(errors)}):")
        lines += [f"- {e}" for e in errors[:MAX_LINES]]
        if len(errors) > MAX_LINES:
            lines.append(f"- …… 另有 {len(errors) - MAX_LINES} 条 and {len(errors) - MAX_LINES} more")
    if payload.get("hint"):
        lines.append(str(payload["hint"]))
    since = f" · 自 since {payload['since'][:19]}Z" if payload.get("since") else ""
    lines.append(f"问题 Problem: {payload.get('problem') or '-'}{since}")
    return lines


def render_operator(channel: str, payload: dict[str, Any]) -> str:
    """``markdown`` (WeCom/DingTalk/Feishu), ``telegram`` (HTML) or ``text`` (e-mail, console, Slack)."""
    lines = _lines(payload)
    footer = f"告警 Alert #{payload.get('id')} · {payload.get('idempotency_key') or ''}".rstrip(" ·")
    if channel == "markdown":
        return "\n".join([f"### {lines[0]}", *lines[1:], f'<font color="comment">{footer}</font>'])
    if channel == "telegram":
        escaped = [html.escape(line, quote=False) for line in lines]
        return "\n".join([f"<b>{escaped[0]}</b>", *escaped[1:], html.escape(footer, quote=False)])
    return "\n".join([*lines, footer])
