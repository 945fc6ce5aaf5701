"""The sender contract: deliver one alert payload, say what should happen next."""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from monitor.plugin import PluginConfig


class SenderConfig(PluginConfig):
    """Base for sender settings (same rules as connector settings: strict, secrets masked)."""


class Outcome(enum.Enum):
    OK = "ok"  # delivered; never send again
    RETRY = "retry"  # temporary failure; try again later with backoff
    AUTH = "auth"  # credentials or the hook URL rejected: stop trying, disable the target, tell the operator
    FATAL = "fatal"  # will never work (rejected payload, refused recipients); stop trying


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    detail: str = ""
    retry_after: float | None = None

    @classmethod
    def ok(cls) -> SendResult:
        return cls(Outcome.OK)


class Sender(ABC):
    kind: ClassVar[str]
    Config: ClassVar[type[SenderConfig]]
    group_chat: ClassVar[bool] = True  # alerts to shared places get personal data masked

    def __init__(self, name: str, config: SenderConfig) -> None:
        self.name = name
        self.config = config

    @abstractmethod
    def send(self, payload: dict[str, Any]) -> SendResult:
        """Deliver one alert. ``payload['id']`` is the alert id: an idempotency key for receivers."""

    def longest_send_seconds(self) -> float:
        """How long one ``send`` may take at most (its timeouts); the outbox's lease covers it."""
        return 0.0

    def close(self) -> None:  # noqa: B027 - optional hook, most senders hold nothing
        """Release files/connections."""

    def check(self) -> list[str]:
        """Problems found by reaching the endpoint without sending anything (``check-config``)."""
        return []
