"""Short full collections in the long-running daemon: long-lived objects frozen out of the cyclic
garbage collector's reach (issue 13).

A full (generation 2) collection holds the GIL while it walks every tracked object, a pause for
every thread - the HTTP loop and the intake writer included. :func:`settle` at start-up freezes
what start-up built (configuration, rules, analysis engine, HTTP application: ~140,000 objects,
~90 ms per full collection before). Much is still built lazily by the first requests and polls
(SQLAlchemy's compiled statements, ORM and Litestar caches: ~13,000 objects after one intake
group) and every later full collection walked it again: ~10 ms of CPU each, every ~5 s at
200 submissions/s (bench/intake_trace.py). :class:`Refreezer` freezes the survivors again a few
seconds after start and then every minute (a collection of the young objects only, as cheap as
an automatic one: 2-5 ms in the same runs).

A frozen object is never collected as cyclic garbage, so what dies after its freeze (a session
that was in flight, an evicted cache entry) would stay; every ``sweep_every``-th run unfreezes
everything first, one full collection of the whole heap, rare enough to stay out of the p99.
"""

from __future__ import annotations

import gc

import structlog

log = structlog.get_logger("yuqing.daemon")


def settle() -> None:
    """Collect once, then freeze what is alive now."""
    gc.collect()
    gc.freeze()


class Refreezer:
    """A housekeeping job: freeze the young survivors; every ``sweep_every``-th run, sweep all."""

    def __init__(self, sweep_every: int = 60) -> None:
        self.sweep_every, self.runs = sweep_every, 0

    def __call__(self) -> None:
        self.runs += 1
        sweep = self.runs % self.sweep_every == 0
        if sweep:
            gc.unfreeze()  # cycles that died since their freeze become collectable again
        collected = gc.collect()
        gc.freeze()
        if sweep:
            log.debug("gc_swept", collected=collected, frozen=gc.get_freeze_count())
