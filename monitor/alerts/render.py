"""One renderer per channel format, from typed notices (``monitor.notices``).

Chinese-first Jinja2 templates in ``monitor/alerts/tpl``: ``markdown`` serves WeCom, DingTalk
(each wraps mentions its own way), ``text`` e-mail, Slack, Feishu, the console and plain chats,
``telegram`` Telegram's HTML subset (autoescaped). Each template branches on the notice's kind;
the row's delivery keys (``id``, ``idempotency_key``) come separately.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import ValidationError

from monitor.notices import OperatorNotice, parse_notice

TEMPLATES = Path(__file__).with_name("tpl")
FILES = {"markdown": "markdown.md.j2", "text": "text.txt.j2", "telegram": "telegram.html.j2"}
LEVEL_NAMES = {"L1": "紧急 urgent", "L2": "重要 important", "L3": "一般 normal"}


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(
            enabled_extensions=("html.j2",), default_for_string=False, default=False
        ),
        undefined=StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=False,
    )
    env.globals["levels"] = LEVEL_NAMES
    return env


def render(
    channel: str, payload: dict[str, Any], *, mention: Callable[[str], str] = lambda m: f"@{m}"
) -> str:
    """The message text of an outgoing payload (a stored notice plus the delivery keys)."""
    try:
        notice: Any = parse_notice(payload)
    except ValidationError:  # a row written before notices were typed: show what it says
        notice = OperatorNotice(
            priority=payload.get("priority"),
            title=str(payload.get("title") or payload.get("kind") or ""),
            excerpt=str(payload.get("excerpt") or ""),
        )
    delivery = {"id": payload.get("id"), "key": payload.get("idempotency_key") or ""}
    text = environment().get_template(FILES[channel]).render(p=notice, d=delivery, mention=mention)
    return "\n".join(line.rstrip() for line in text.strip().splitlines())
