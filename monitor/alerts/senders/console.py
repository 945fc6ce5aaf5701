"""Print alerts to the terminal (stderr), Chinese first."""

from __future__ import annotations

import sys
from typing import Any, ClassVar, TextIO

from monitor.alerts.render import render
from monitor.alerts.senders.base import Sender, SenderConfig, SendResult


class ConsoleConfig(SenderConfig):
    stream: str = "stderr"


class ConsoleSender(Sender):
    kind: ClassVar[str] = "console"
    Config = ConsoleConfig
    group_chat = False

    def send(self, payload: dict[str, Any]) -> SendResult:
        stream: TextIO = sys.stdout if getattr(self.config, "stream", "stderr") == "stdout" else sys.stderr
        stream.write(render("text", payload) + "\n")  # every notice kind, incidents included
        stream.flush()
        return SendResult.ok()
