"""The outbox queue: notices become ``alerts`` rows, written before anything is sent.

The delivery half (claiming rows, noise control, senders) is ``monitor.alerts.outbox``. A row's
``(dedupe_key, target)`` is unique, so writing the same notice twice (a retried transaction, two
instances) gives one row; the outbox hands ``idempotency_key = <dedupe_key>@<target>`` to the
receiver so a re-send after a crash mid-send can be dropped there.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from monitor.findings import priority_rank
from monitor.notices import Notice, OperatorNotice
from monitor.storage.bulk import queue_row
from monitor.storage.db import Database
from monitor.storage.models import Alert
from monitor.stories.routes import RouteTree, Subject
from monitor.targets import TargetConfig

ALERTS = cast(Table, Alert.__table__)


def wanted(targets: Sequence[TargetConfig], names: Iterable[str], priority: str | None) -> list[str]:
    """The enabled targets among ``names`` whose ``min_priority`` admits ``priority``."""
    by_name = {t.name: t for t in targets if t.enabled}
    out: list[str] = []
    for name in names:
        target = by_name.get(name)
        if target is None or name in out:
            continue
        if priority is not None and priority_rank(priority) > priority_rank(target.min_priority):
            continue
        out.append(name)
    return out


def write_rows(
    session: Session,
    key: str,
    targets: Sequence[str],
    notice: Notice,
    *,
    story_id: int | None = None,
    ticket_id: int | None = None,
    incident_id: int | None = None,
    message_id: int | None = None,
    fresh: bool = False,
    known: Collection[str] | None = None,
) -> int:
    """One pending row per target that has not had ``key`` yet (idempotent). ``fresh``: the key
    cannot exist yet (a story's first page, under its row lock): no look-up; the unique
    ``(dedupe_key, target)`` still refuses a duplicate. ``known``: the targets that have the key
    already, looked up by the caller for many keys at once. Inside a
    :func:`monitor.storage.bulk.written_together` block the rows are queued and written with the
    block's others."""
    if not targets:
        return 0
    if fresh:
        known = ()
    elif known is None:
        known = set(session.scalars(select(Alert.target).where(Alert.dedupe_key == key)))
    payload = notice.model_dump(mode="json")
    count = 0
    for target in targets:
        if target in known:
            continue
        row = {
            "dedupe_key": key,
            "target": target,
            "kind": notice.kind,
            "priority": notice.priority,
            "story_id": story_id,
            "ticket_id": ticket_id,
            "incident_id": incident_id,
            "message_id": message_id,
            "step": notice.step[:32] or None,
            "payload": payload,
        }
        if not queue_row(session, ALERTS, row):
            session.add(Alert(**row))
        count += 1
    return count


def enqueue_operator_alert(
    db: Database | Session,
    dedupe_key: str,
    text: str,
    targets: Sequence[TargetConfig],
    *,
    routes: RouteTree | None = None,
    errors: Sequence[str] = (),
    title: str | None = None,
    notice: OperatorNotice | None = None,
) -> int:
    """A notice for the operator (a source disabled, rules invalid), once per ``dedupe_key``.

    It goes through the route tree as the ``operator`` kind (the ``operators`` route); without a
    tree (tests, tools) to every enabled target. ``db`` may be an open session (the caller's
    transaction: an operator problem's new state and its notice commit together); ``notice`` is the
    full record (``monitor.stories.operator``), default one made of ``text``/``errors``.
    """
    names = [t.name for t in targets if t.enabled]
    if routes is not None:
        names = list(routes.match(Subject(kind="operator", priority="L2")).receivers)
    notice = notice or OperatorNotice(
        priority="L2", title=title or text, excerpt=text, errors=list(errors), step="operator"
    )
    if isinstance(db, Database):
        with db.transaction() as session:
            return write_rows(session, dedupe_key, wanted(targets, names, None), notice)
    return write_rows(db, dedupe_key, wanted(targets, names, None), notice)
