"""Chinese-first Jinja2 templates per channel (``monitor/alerts/tpl``).

``markdown`` serves WeCom, DingTalk and Feishu (each wraps mentions its own way), ``text`` e-mail
and plain chats, ``telegram`` Telegram's HTML subset (autoescaped).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from monitor.alerts.operator_notice import KIND as OPERATOR
from monitor.alerts.operator_notice import render_operator

TEMPLATES = Path(__file__).with_name("tpl")
FILES = {"markdown": "markdown.md.j2", "text": "text.txt.j2", "telegram": "telegram.html.j2"}


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(
            enabled_extensions=("html.j2",), default_for_string=False, default=False
        ),
        undefined=StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=False,
    )


class _Lenient(dict[str, Any]):
    """Payload access where a missing key is None (payload kinds carry different keys)."""

    def __getattr__(self, name: str) -> Any:
        return self.get(name)


def render(
    channel: str, payload: dict[str, Any], *, mention: Callable[[str], str] = lambda m: f"@{m}"
) -> str:
    if payload.get("kind") == OPERATOR:
        return render_operator(channel, payload)
    template = environment().get_template(FILES[channel])
    wrapped = _Lenient(payload)
    wrapped.setdefault("recipients", [])
    wrapped.setdefault("top", [])
    wrapped.setdefault("items", [])
    wrapped.setdefault("sources", [])
    wrapped["recipients"] = [_Lenient(r) for r in wrapped["recipients"]]
    wrapped["top"] = [_Lenient(t) for t in wrapped["top"]]
    wrapped["items"] = [_Lenient(i) for i in wrapped["items"]]
    text = template.render(p=wrapped, mention=mention)
    return "\n".join(line.rstrip() for line in text.strip().splitlines())
