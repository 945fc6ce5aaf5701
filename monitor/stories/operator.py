"""Operator problems, told once: a problem has a key, a state (open/fixed) and all its errors.

Keys name what is broken: ``rules:<file>``, ``source-auth:<source>``, ``sender-auth:<target>``,
``source-path:<source>``. The state lives in the ``operator_problems`` table, so a restart or a
second instance sharing the database does not tell the operator again.

* :meth:`OperatorProblems.report` - a new (or re-opened) problem queues one notice listing every
  error; reporting it again with the same errors queues nothing; with changed errors the stored
  list is updated (visible with ``yuqing alerts problems``) without a new page: the operator is
  already at work on it (five broken saves of one rule file are one problem, one notice).
* :meth:`OperatorProblems.fixed` - an open problem becomes fixed and one "fixed" notice is queued.

Each notice is an :class:`~monitor.alerts.operator_notice.OperatorNotice` written to the outbox
in the same transaction as the problem's new state (``enqueue_operator_alert``), to every enabled
target except those disabled for rejecting our credentials.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Sequence
from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor.alerts.operator_notice import OperatorNotice
from monitor.alerts.outbox import enqueue_operator_alert
from monitor.storage.db import Database
from monitor.storage.models import OperatorProblem, TargetState, utcnow
from monitor.targets import TargetConfig

log = structlog.get_logger("yuqing.operator")


class OperatorProblems:
    """Open, update and fix operator problems; queue one notice per opening and per fix."""

    def __init__(
        self,
        db: Database,
        targets: Callable[[], Sequence[TargetConfig]],
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.targets = targets
        self.clock = clock
        self._open: set[str] | None = None  # keys open when last looked; saves a query per fixed()

    def report(self, key: str, title: str, errors: Sequence[str], *, hint: str = "") -> bool:
        """Open (or update) problem ``key``; True when a notice was queued."""
        for attempt in (0, 1):
            try:
                with self.db.transaction() as session:
                    sent = self._report(session, key, title, tuple(errors), hint)
                break
            except IntegrityError:  # another instance opened it at the same moment: read it again
                if attempt:
                    raise
        self._known_open().add(key)
        return sent

    def _report(self, session: Session, key: str, title: str, errors: tuple[str, ...], hint: str) -> bool:
        now = self.clock()
        row = session.get(OperatorProblem, key, with_for_update=True)
        if row is not None and row.state == "open":
            if tuple(row.errors) != errors or row.title != title:
                row.errors, row.title, row.updated_at = list(errors), title, now
                log.warning("operator_problem_updated", problem=key, errors=len(errors))
            return False
        if row is None:
            row = OperatorProblem(key=key, revision=0)
            session.add(row)
        row.state, row.title, row.errors = "open", title, list(errors)
        row.revision += 1
        row.opened_at = row.updated_at = now
        row.fixed_at = None
        notice = OperatorNotice(problem=key, state="open", title=title, errors=errors, since=now, hint=hint)
        self._notify(session, row, notice)
        log.error("operator_problem", problem=key, errors=len(errors))
        return True

    def fixed(self, key: str, *, title: str | None = None) -> bool:
        """Close problem ``key`` if it is open; True when a "fixed" notice was queued."""
        if key not in self._known_open():
            return False
        with self.db.transaction() as session:
            done = self._fix(session, key, title)
        self._known_open().discard(key)
        return done

    def fixed_except(self, prefix: str, keep: Collection[str] = ()) -> list[str]:
        """Close every open problem whose key starts with ``prefix`` and is not in ``keep``
        (a rule reload: files without errors now are fixed). Reads the table, not the cache."""
        with self.db.transaction() as session:
            keys = [
                k
                for k in session.scalars(
                    select(OperatorProblem.key).where(
                        OperatorProblem.state == "open", OperatorProblem.key.startswith(prefix, autoescape=True)
                    )
                )
                if k not in keep
            ]
            fixed = [k for k in keys if self._fix(session, k, None)]
        self._known_open().difference_update(fixed)
        return fixed

    def _fix(self, session: Session, key: str, title: str | None) -> bool:
        row = session.get(OperatorProblem, key, with_for_update=True)
        if row is None or row.state != "open":
            return False
        now = self.clock()
        row.state, row.fixed_at, row.updated_at = "fixed", now, now
        row.revision += 1
        notice = OperatorNotice(
            problem=key, state="fixed", title=title or row.title, errors=tuple(row.errors), since=row.opened_at
        )
        self._notify(session, row, notice)
        log.info("operator_problem_fixed", problem=key)
        return True

    def _notify(self, session: Session, row: OperatorProblem, notice: OperatorNotice) -> None:
        disabled = set(session.scalars(select(TargetState.name)))
        targets = [t for t in self.targets() if t.enabled and t.name not in disabled]
        key = row.key if len(row.key) <= 200 else hashlib.sha256(row.key.encode()).hexdigest()
        enqueue_operator_alert(
            session, f"operator:{key}:{row.revision}", notice.title, targets, payload=notice.payload()
        )

    def open_problems(self) -> list[OperatorProblem]:
        with self.db.read() as session:
            return list(
                session.scalars(
                    select(OperatorProblem).where(OperatorProblem.state == "open").order_by(OperatorProblem.key)
                )
            )

    def _known_open(self) -> set[str]:
        if self._open is None:
            self._open = {p.key for p in self.open_problems()}
        return self._open
