"""Who may do what: the four staff roles and the one permission table every face checks.

A leaf (it imports nothing of yuqing): the CLI checks it before any write, the acknowledgement
links of the HTTP server and a future web console call the same :func:`authorize`, so a rule
changes in one place. People and their roles are configured in the ``people`` section of the
on-call file (``config/oncall.yaml``: ``role: viewer|agent|supervisor|admin``, optional
``os_user``); see ``docs/roles.zh.md``.

When no person has a role at all (the demo configuration, an installation from before roles),
every actor acts as ``admin`` and the caller prints :data:`IMPLICIT_ADMIN_WARNING`: nothing that
worked before is refused, and the operator is told why nothing is checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Role = Literal["viewer", "agent", "supervisor", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "agent", "supervisor", "admin")
"""Lowest to highest; a role may do everything the roles before it may."""

_AT_LEAST: dict[Role, frozenset[Role]] = {role: frozenset(ROLES[i:]) for i, role in enumerate(ROLES)}

PERMISSIONS: Mapping[str, frozenset[Role]] = {
    # reading (every known person; the CLI's read commands are not checked)
    "read": _AT_LEAST["viewer"],
    # the ticket and its story: day-to-day work of agents
    "ticket.new": _AT_LEAST["agent"],
    "ticket.set": _AT_LEAST["agent"],
    "ticket.status": _AT_LEAST["agent"],
    "ticket.note": _AT_LEAST["agent"],
    "ticket.respond": _AT_LEAST["agent"],
    "ticket.attachments": _AT_LEAST["agent"],  # download customers' files (pictures, voice notes)
    "story.ack": _AT_LEAST["agent"],
    "story.resolve": _AT_LEAST["agent"],
    "kb.link": _AT_LEAST["agent"],
    # decisions over other people's work, mass actions and outgoing mail: supervisors
    "review.decide": _AT_LEAST["supervisor"],
    "silence.manage": _AT_LEAST["supervisor"],
    "quarantine.manage": _AT_LEAST["supervisor"],
    "intake.import": _AT_LEAST["supervisor"],
    "report.write": _AT_LEAST["supervisor"],
    "survey.send": _AT_LEAST["supervisor"],
    "kb.admin": _AT_LEAST["supervisor"],
    "db.backup": _AT_LEAST["supervisor"],
    # configuration, credentials and the database itself: admins
    "rules.admin": _AT_LEAST["admin"],
    "alerts.admin": _AT_LEAST["admin"],
    "intake.keys": _AT_LEAST["admin"],
    "db.admin": _AT_LEAST["admin"],
}
"""Action → the roles that may do it."""

IMPLICIT_ADMIN_WARNING = (
    "警告：未配置任何角色（on-call 文件 people 中没有 role），所有操作人均按管理员处理 / "
    "warning: no roles configured (no person in the on-call people has a role): every actor acts as admin"
)


@dataclass(frozen=True, slots=True)
class Person:
    """A configured person as far as permissions go."""

    id: str
    name: str
    role: Role
    os_user: str | None = None


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a configured person, or (implicit admin mode only) a free-form name."""

    id: str
    role: Role
    configured: bool


class Refused(Exception):
    """The actor may not do the action, or is not known: say it and exit non-zero."""


class UnknownActor(Refused):
    pass


class Forbidden(Refused):
    pass


def may(role: Role, action: str) -> bool:
    """Whether ``role`` may do ``action``; an action missing from the table is refused."""
    return role in PERMISSIONS.get(action, frozenset())


@dataclass(frozen=True)
class Directory:
    """The configured people, keyed by id."""

    people: Mapping[str, Person]
    roles_configured: bool
    """True when at least one person has a ``role:`` (people without one are viewers then)."""
    source: str = ""

    def find(self, actor: str) -> Person | None:
        """A person by id, or by exact name when exactly one person has it."""
        if actor in self.people:
            return self.people[actor]
        named = [p for p in self.people.values() if p.name == actor]
        return named[0] if len(named) == 1 else None

    def by_os_user(self, user: str) -> Person | None:
        mapped = [p for p in self.people.values() if p.os_user == user]
        if len(mapped) == 1:
            return mapped[0]
        return self.people.get(user)

    def known(self) -> str:
        people = sorted(self.people.values(), key=lambda p: p.id)
        if self.roles_configured:
            return ", ".join(f"{p.id} ({p.name}) [{p.role}]" for p in people) or "-"
        return ", ".join(f"{p.id} ({p.name})" for p in people) or "-"


def resolve(directory: Directory, actor: str | None, os_user: str) -> Actor:
    """Who acts. ``actor`` is what was named (``--actor`` or ``$YUQING_ACTOR``), else the OS user
    is mapped through the people (``os_user:`` or a person whose id is the login name).

    With roles configured an unknown actor is refused. Without roles, a named actor must still be
    one of the people when people are configured (as acknowledgements always required); the OS
    user that names nobody acts as ``cli:<user>``; everyone is ``admin``.
    """
    roles_configured = directory.roles_configured
    where = f" (people of {directory.source})" if directory.source else ""
    if actor is not None:
        person = directory.find(actor)
        if person is None and (roles_configured or directory.people):
            raise UnknownActor(
                f"未知的操作人 unknown person {actor!r}{where}; known: {directory.known()}"
            )
    else:
        person = directory.by_os_user(os_user)
        if person is None and roles_configured:
            raise UnknownActor(
                f"未知的操作人 unknown person: 系统用户 {os_user!r} 不在 people 中，请用 --actor 或 $YUQING_ACTOR 指明 / "
                f"OS user {os_user!r} maps to no person{where}; name one with --actor or $YUQING_ACTOR"
            )
    if not roles_configured:
        return Actor(person.id if person else (actor or f"cli:{os_user}"), "admin", person is not None)
    assert person is not None
    return Actor(person.id, person.role, True)


def authorize(actor: Actor, action: str) -> Actor:
    """``actor`` if its role may do ``action``; :class:`Forbidden` with the roles that may otherwise."""
    if may(actor.role, action):
        return actor
    allowed = "/".join(r for r in ROLES if r in PERMISSIONS.get(action, frozenset())) or "-"
    raise Forbidden(
        f"无权限：{actor.id}（角色 {actor.role}）不能执行 {action}，需要 {allowed} / "
        f"permission denied: {actor.id} (role {actor.role}) may not do {action}; allowed roles: {allowed}"
    )


__all__ = [
    "IMPLICIT_ADMIN_WARNING",
    "PERMISSIONS",
    "ROLES",
    "Actor",
    "Directory",
    "Forbidden",
    "Person",
    "Refused",
    "Role",
    "UnknownActor",
    "authorize",
    "may",
    "resolve",
]
