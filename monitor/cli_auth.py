"""Every CLI write names its actor and is checked against the ``people`` and the permission table.

:data:`COMMAND_ACTIONS` classifies every leaf command: the action of :mod:`monitor.roles` it
performs, or ``None`` for commands that change no shared state. :func:`install` gives each write
command an ``--actor`` option; :func:`check` runs in ``main`` before the command, so a refused
command has opened nothing. A command missing from the table (added later, not classified yet)
needs ``admin``: refusing by default is the safe mistake.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Iterator

from monitor.config import AppConfig
from monitor.errors import ConfigError
from monitor.roles import IMPLICIT_ADMIN_WARNING, Directory, Refused, UnknownActor, authorize, resolve

EXIT_FORBIDDEN = 4
UNCLASSIFIED = "db.admin"

# Leaf command → action (monitor.roles.PERMISSIONS), or None when it writes nothing shared.
COMMAND_ACTIONS: dict[tuple[str, ...], str | None] = {
    # the daemon is the service itself: who may start it is the OS's business (unit, file modes)
    ("run",): None,
    ("check-config",): None,
    ("version",): None,
    ("status",): None,
    ("db", "upgrade"): "db.admin",
    ("db", "downgrade"): "db.admin",
    ("db", "restore"): "db.admin",
    ("db", "backup"): "db.backup",
    ("db", "current"): None,
    ("db", "verify"): None,
    ("tickets", "list"): None,
    ("tickets", "show"): None,
    ("tickets", "set-status"): "ticket.status",
    ("tickets", "new"): "ticket.new",  # staff registration of a call, a store visit, a box slip
    ("tickets", "attachment"): "ticket.attachments",  # customers' files (personal data): not for viewers
    ("intake", "keys", "add"): "intake.keys",
    ("intake", "keys", "rotate"): "intake.keys",
    ("intake", "keys", "revoke"): "intake.keys",
    ("intake", "keys", "list"): None,
    ("tickets", "set"): "ticket.set",
    ("tickets", "note"): "ticket.note",
    ("tickets", "respond"): "ticket.respond",
    ("quarantine", "list"): None,
    ("quarantine", "show"): None,
    ("quarantine", "retry"): "quarantine.manage",
    ("quarantine", "discard"): "quarantine.manage",
    ("analyze",): None,
    ("rules", "lint"): None,
    ("rules", "test"): None,
    ("rules", "explain"): None,
    ("rules", "backtest"): None,  # replays in memory, stores nothing
    ("sentiment", "train"): None,  # writes the model file the user names; no database, no configuration
    ("import",): "intake.import",
    ("ack",): "story.ack",
    ("resolve",): "story.resolve",
    ("story", "show"): None,
    ("incidents", "list"): None,
    ("oncall", "who"): None,
    ("oncall", "preview"): None,
    ("silence", "add"): "silence.manage",
    ("silence", "remove"): "silence.manage",
    ("silence", "list"): None,
    ("review", "list"): None,
    ("review", "approve"): "review.decide",
    ("review", "reject"): "review.decide",
    ("alerts", "test"): "alerts.admin",
    ("alerts", "enable"): "alerts.admin",
    ("alerts", "problems"): None,
    ("alerts", "route-test"): None,
    ("sla", "show"): None,
    ("sla", "due"): None,
    ("sla", "calendar"): None,
    ("stats",): None,
    ("report", "monthly"): "report.write",
    ("survey", "send"): "survey.send",
    ("survey", "results"): None,
    ("feedback", "pending"): None,
    ("feedback", "posted"): "ticket.respond",  # staff posted the follow-up by hand
    ("sla", "refresh"): "report.write",  # recomputes sla_results for a month
    ("kb", "link"): "kb.link",
    ("kb", "rebuild"): "kb.admin",
    ("kb", "search"): None,
    ("kb", "show"): None,
}


def actor_name(value: str) -> str:
    """argparse type: a non-empty actor name without control characters, at most 128 characters."""
    value = value.strip()
    if not value or len(value) > 128 or any(ord(c) < 32 for c in value):
        raise argparse.ArgumentTypeError(f"操作人须为 1-128 个可见字符 / --actor must be 1-128 visible characters: {value!r}")
    return value


def leaves(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every leaf (sub)command with its path of names (aliases once)."""
    children = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not children:
        yield prefix, parser
        return
    for action in children:
        seen: set[int] = set()
        for name, child in action.choices.items():
            if id(child) not in seen:
                seen.add(id(child))
                yield from leaves(child, (*prefix, name))


def install(parser: argparse.ArgumentParser) -> None:
    """Give every write command ``--actor`` and its action (``args.permission``)."""
    for command, leaf in leaves(parser):
        action = COMMAND_ACTIONS.get(command, UNCLASSIFIED)
        leaf.set_defaults(permission=action)
        if action is not None and not any("--actor" in a.option_strings for a in leaf._actions):
            leaf.add_argument(
                "--actor",
                type=actor_name,
                default=None,
                help="who acts: a people id or name (default $YUQING_ACTOR, else the OS user mapped through people)",
            )


def directory(config: AppConfig) -> Directory:
    """The configured people (``alerts.oncall``); none without an on-call file."""
    from monitor.stories.oncall_config import load_oncall, staff_directory

    if config.alerts.oncall is None:
        return staff_directory(None)
    try:
        return staff_directory(load_oncall(config.alerts.oncall))
    except ConfigError as exc:
        print(f"{config.alerts.oncall}: on-call file is invalid:", file=sys.stderr)
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        raise SystemExit(2) from None


def check(args: argparse.Namespace, config: AppConfig) -> str:
    """The actor's id if it may do ``args.permission``; prints why and exits non-zero otherwise
    (2 for an unknown actor, :data:`EXIT_FORBIDDEN` for a role that may not)."""
    people = directory(config)
    named = args.actor or os.environ.get("YUQING_ACTOR") or None
    try:
        actor = authorize(resolve(people, named, getpass.getuser()), args.permission)
    except Refused as exc:
        print(f"yuqing {args.command}: {exc}", file=sys.stderr)
        raise SystemExit(2 if isinstance(exc, UnknownActor) else EXIT_FORBIDDEN) from None
    if not people.roles_configured and sys.stderr.isatty():
        # said on a terminal each time; ``check-config`` and the daemon's start say it always
        # (scripts and their one-line error contracts are not disturbed)
        print(IMPLICIT_ADMIN_WARNING, file=sys.stderr)
    return actor.id
