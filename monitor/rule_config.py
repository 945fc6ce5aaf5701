"""The ``rules:`` section of the configuration, for the rule commands (``yuqing rules …``, ``analyze``).

Only that section is read and validated: PR staff checking rules on a workstation should not need
the database password or a source's token that other sections refer to through ``${ENV}``. Paths
resolve against the configuration file's directory exactly as the daemon resolves them.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pydantic import ValidationError

from monitor import errortext
from monitor.analysis.rulesource import DEFAULT, RuleSource
from monitor.cli import DEFAULT_CONFIGS
from monitor.config import RulesConfig
from monitor.errors import ConfigError
from monitor.yamlsource import load_yaml


def _config_file(args: argparse.Namespace) -> Path | None:
    explicit = getattr(args, "config", None) or os.environ.get("YUQING_CONFIG")
    if explicit:
        return Path(explicit)
    return next((p for p in DEFAULT_CONFIGS if p.exists()), None)


def load_rule_source(args: argparse.Namespace) -> RuleSource:
    """Rule paths and sentiment settings of the configuration in effect (ConfigError if invalid)."""
    path = _config_file(args)
    if path is None:
        return DEFAULT
    doc = load_yaml(path)
    issues = [i for i in doc.issues if not i.path or i.path.startswith("rules")]
    if doc.unreadable or issues:
        raise ConfigError(issues or doc.issues)
    data = doc.data if isinstance(doc.data, dict) else {}
    section = data.get("rules") or {}
    try:
        rules = RulesConfig.model_validate(section, context={"base_dir": str(path.resolve().parent)})
    except ValidationError as exc:
        raise ConfigError(
            [doc.issue(("rules", *err["loc"]), str(errortext.pydantic_error(err))) for err in exc.errors()]
        ) from None
    sentiment = rules.sentiment.settings() if rules.sentiment else None
    return RuleSource(tuple(Path(os.path.normpath(p)) for p in rules.paths), sentiment, path)
