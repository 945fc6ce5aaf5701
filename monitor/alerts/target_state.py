"""Alert targets switched off after their receiver rejected our credentials (401/403, a hook URL
that does not exist, SMTP 535) - stored in ``target_states`` so restarts and other instances agree.

A target comes back with ``yuqing alerts enable TARGET`` or when its configuration changes (the
stored fingerprint of its settings differs from the running one, checked at start and on SIGHUP).
Alerts that failed because the target was off are queued again when it comes back: nothing is lost.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, SecretStr
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from monitor.storage.db import Database
from monitor.storage.models import Alert, TargetState, utcnow
from monitor.targets import TargetConfig


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="python")
    return str(value)


def target_fingerprint(target: TargetConfig) -> str:
    """A digest of the target's kind and settings (secrets included, so a new token counts).

    PBKDF2 rather than one SHA-256: the row sits in a database more people can read than the
    configuration, and a weak SMTP password must not be cheap to guess from it."""
    settings = target.settings.model_dump(mode="python") if isinstance(target.settings, BaseModel) else {}
    text = json.dumps({"kind": target.kind, "settings": settings}, sort_keys=True, default=_plain)
    return hashlib.pbkdf2_hmac("sha256", text.encode(), f"yuqing-target:{target.name}".encode(), 100_000).hex()


def disabled_targets(db: Database) -> dict[str, str]:
    """Disabled target name -> reason."""
    with db.read() as session:
        return {row.name: row.reason for row in session.scalars(select(TargetState))}


def disable(db: Database, target: TargetConfig, reason: str, alert_id: int | None) -> bool:
    """Switch ``target`` off; False when it already was (another lane or instance got there first)."""
    try:
        with db.transaction() as session:
            if session.get(TargetState, target.name) is not None:
                return False
            session.add(
                TargetState(
                    name=target.name,
                    reason=reason[:2000],
                    fingerprint=target_fingerprint(target),
                    first_alert_id=alert_id,
                    disabled_at=utcnow(),
                )
            )
    except IntegrityError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Enabled:
    was_disabled: bool
    requeued: int = 0


def enable(db: Database, name: str) -> Enabled:
    """Switch ``name`` back on and queue again the alerts that failed while it was off."""
    with db.transaction() as session:
        row = session.get(TargetState, name)
        if row is None:
            return Enabled(False)
        since = (
            Alert.id >= row.first_alert_id if row.first_alert_id is not None else Alert.created_at >= row.disabled_at
        )
        result = session.execute(
            update(Alert)
            .where(Alert.target == name, Alert.status == "failed", since)
            .values(status="pending", attempts=0, next_attempt_at=utcnow(), last_error=None, claimed_by=None)
            .execution_options(synchronize_session=False)
        )
        session.delete(row)
        return Enabled(True, int(getattr(result, "rowcount", 0) or 0))


def changed_since_disabled(db: Database, targets: Sequence[TargetConfig]) -> list[str]:
    """Disabled targets whose configuration is no longer the one that was rejected."""
    configured = {t.name: t for t in targets if t.enabled}
    with db.read() as session:
        stored = {row.name: row.fingerprint for row in session.scalars(select(TargetState))}
    return [n for n, f in stored.items() if n in configured and target_fingerprint(configured[n]) != f]
