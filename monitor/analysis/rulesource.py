"""Where the rule commands take their rules from: ``--rules``, else the configuration's rule paths.

The rule commands live in the analysis package, which must not import the configuration module
(it pulls in tickets and alerts). The ``yuqing`` entry point therefore puts a loader on the parsed
arguments (``args.rule_source``, see :mod:`monitor.rule_config`) that reads the ``rules:`` section of
the configuration; without one (tests, embedding) the default is ``./rules``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from monitor.analysis.schema import SentimentSettings


@dataclass(frozen=True, slots=True)
class RuleSource:
    """Rule paths and the daemon's sentiment settings, as the daemon would use them."""

    paths: tuple[Path, ...]
    sentiment: SentimentSettings | None = None
    config: Path | None = None  # the configuration file they came from, if any

    def describe(self) -> str:
        where = ", ".join(str(p) for p in self.paths)
        origin = f"（配置 config: {self.config}）" if self.config else ""
        return f"规则 rules: {where}{origin}"


RuleSourceLoader = Callable[[argparse.Namespace], RuleSource]
DEFAULT = RuleSource((Path("rules"),))


def resolve(args: argparse.Namespace) -> RuleSource:
    """The configured rule source (or ``./rules``); explicit ``--rules`` replaces its paths.

    Raises :class:`~monitor.errors.ConfigError` when the configuration cannot be read.
    """
    loader: RuleSourceLoader | None = getattr(args, "rule_source", None)
    source = loader(args) if loader is not None else DEFAULT
    explicit = getattr(args, "rules", None)
    if explicit:
        return replace(source, paths=tuple(Path(p) for p in explicit))
    return source
