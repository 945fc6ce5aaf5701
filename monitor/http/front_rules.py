"""The intake's analysis in the HTTP front process, kept equal to the daemon's.

A submission is analysed where it arrives - in the front process - so the daemon's GIL is left to
the writer. The analysis must be the one the daemon would make, rule reloads included, so every
analysis carries the key of the rules it was made with (:class:`RulesSpec`), and the daemon uses
it only when that key is its own live one; otherwise it analyses the submission itself (as
in-process) and sends its rules to the child, which loads them in the background
(:class:`FrontRules`). The child loads rules only when the files on disk still have the
fingerprint the daemon's analyzer was built from: while a rule file is saved broken the daemon
keeps its old rules, which the files no longer describe, and analyses the submissions itself
until the files validate again.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from monitor.analysis.schema import SentimentSettings
from monitor.findings import Analysis, Analyzer
from monitor.message import Message

log = structlog.get_logger("yuqing.http")

RulesKey = tuple[str, int, str, tuple[str, ...]]


@dataclass(frozen=True)
class RulesSpec:
    """Where the daemon's live analyzer came from: its files, their fingerprint, its settings."""

    paths: tuple[Path, ...]
    sentiment: SentimentSettings | None
    max_chars: int
    fingerprint: str

    @property
    def key(self) -> RulesKey:
        return self.fingerprint, self.max_chars, repr(self.sentiment), tuple(str(p) for p in self.paths)


class FrontRules:
    """The child's analyzer and the key of the rules it was built from (none until loaded)."""

    def __init__(self) -> None:
        self._live: tuple[Analyzer, RulesKey] | None = None
        self._lock = threading.Lock()
        self._wanted: RulesSpec | None = None

    def load_in_background(self, spec: RulesSpec | None) -> None:
        """Load ``spec`` in a thread (the rules of a big deployment take seconds); the latest wins."""
        if spec is None:
            return
        with self._lock:
            self._wanted = spec
        threading.Thread(target=self._load, args=(spec,), name="front-rules", daemon=True).start()

    def _load(self, spec: RulesSpec) -> None:
        from monitor.analysis.engine import load_analyzer, rules_fingerprint
        from monitor.runtime import watched_files

        try:
            if rules_fingerprint(watched_files(list(spec.paths), spec.sentiment)) != spec.fingerprint:
                log.info("front_rules_differ", note="the daemon analyses submissions until the rule files validate")
                with self._lock:
                    if self._wanted is spec:
                        self._live = None
                return
            analyzer = load_analyzer(list(spec.paths), sentiment=spec.sentiment, max_chars=spec.max_chars)
        except Exception as exc:  # the daemon analyses meanwhile; nothing is lost
            log.warning("front_rules_failed", error=f"{type(exc).__name__}: {exc}")
            return
        with self._lock:
            if self._wanted is spec:
                self._live = (analyzer, spec.key)
        log.info("front_rules_loaded", paths=[str(p) for p in spec.paths])

    def analyse(self, message: Message) -> tuple[Analysis, float, Any, RulesKey | None]:
        """Analysis, seconds, clustering fingerprint and the rules' key; an empty analysis and no
        key while no rules are loaded (the daemon then analyses)."""
        live = self._live
        if live is None:
            return Analysis(), 0.0, None, None
        from monitor.tickets.clustering import post_fingerprint

        analyzer, key = live
        started = time.perf_counter()
        analysis = analyzer(message)
        extra = post_fingerprint(message)
        return analysis, time.perf_counter() - started, extra, key
