"""The daemon's side of the front process's submissions (:mod:`monitor.http.front`).

``submit`` takes a submission the child parsed, checked and analysed; its analysis is used when it
was made with the daemon's live rules (:mod:`monitor.http.front_rules`), else the daemon analyses
it here, exactly as in-process, and sends its rules to the child. The submission then joins the
same :class:`~monitor.intake.writer.GroupWriter` the hosted form uses. ``check`` answers a file the
child refused as disguised: the daemon checks it again and quarantines it, as in-process.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

from monitor.http.front_rules import RulesSpec
from monitor.http.intake_api import Intake
from monitor.intake.submit import Pending, Receipt
from monitor.pipeline import PipelineContext, analyse_one
from monitor.tickets.clustering import remember_fingerprints


class FrontIntake:
    def __init__(
        self,
        intake: Intake,
        context: Callable[[], PipelineContext],
        rules: Callable[[], RulesSpec],
        push: Callable[[RulesSpec], None],
    ) -> None:
        self.intake, self.context, self.rules, self.push = intake, context, rules, push
        self.analysed_here = 0
        """Submissions the daemon analysed itself (the child's rules were not the live ones)."""

    def submit(self, payload: tuple[Pending, Any, Any]) -> Future[Receipt]:
        pending, extra, key = payload
        spec = self.rules()
        if key != spec.key:
            analysis, seconds = analyse_one(self.context(), pending.message)
            pending = replace(pending, analysis=analysis, seconds=seconds)
            self.analysed_here += 1
            self.push(spec)
        else:
            remember_fingerprints([pending.message], [extra])
        assert self.intake.writer is not None
        return self.intake.writer.submit(pending)

    def check(self, payload: tuple[Any, Any, str]) -> None:
        uploads, client, address = payload
        self.intake.checked(uploads, client, address)  # raises the answer (and quarantines)
