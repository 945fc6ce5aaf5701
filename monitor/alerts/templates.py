"""Alert text, Chinese first with English after."""

from __future__ import annotations

from typing import Any

from monitor.alerts.operator_notice import KIND as OPERATOR
from monitor.alerts.operator_notice import render_operator

LEVEL_NAMES = {"L1": "紧急 urgent", "L2": "重要 important", "L3": "一般 normal"}


def render_text(payload: dict[str, Any]) -> str:
    if payload.get("kind") == OPERATOR:
        return render_operator("text", payload)
    priority = payload.get("priority") or "-"
    lines = [
        f"【{priority} {LEVEL_NAMES.get(priority, '')}】工单 Ticket {payload.get('ticket', '-')}"
        f" · 来源 {payload.get('source', '-')} ({payload.get('channel', '-')})",
        f"标题 Title: {payload.get('title') or '-'}",
        f"内容 Text: {payload.get('excerpt', '')}",
    ]
    rules = payload.get("rules") or []
    if rules:
        lines.append(
            f"规则 Rules: {', '.join(rules)} · 关键词 Keywords: {', '.join(payload.get('keywords') or [])}"
        )
    if payload.get("url"):
        lines.append(f"链接 Link: {payload['url']}")
    lines.append(f"告警 Alert #{payload.get('id')} · {payload.get('reason', '')}")
    return "\n".join(lines)
