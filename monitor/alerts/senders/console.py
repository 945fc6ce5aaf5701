"""Print alerts to the terminal (stderr), Chinese first."""

from __future__ import annotations

import sys
from typing import Any, ClassVar, TextIO

from monitor.alerts.senders.base import Sender, SenderConfig, SendResult
from monitor.alerts.templates import render_text


class ConsoleConfig(SenderConfig):
    stream: str = "stderr"


class ConsoleSender(Sender):
    kind: ClassVar[str] = "console"
    Config = ConsoleConfig
    group_chat = False

    def send(self, payload: dict[str, Any]) -> SendResult:
        stream: TextIO = sys.stdout if getattr(self.config, "stream", "stderr") == "stdout" else sys.stderr
        stream.write(render_text(payload) + "\n")
        stream.flush()
        return SendResult.ok()
