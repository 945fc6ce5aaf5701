"""How soon a thread waiting for the GIL gets it from a busy one (issue 13).

CPython makes a thread that wants the GIL wait up to ``sys.getswitchinterval()`` (5 ms) before a
thread running Python code hands it over. The daemon's intake writer gives the GIL up on every
SQLite call (~28 per group) and wants it back at once; with a poll thread, the channel's threads or
a request thread busy meanwhile, each of those returns could wait up to 5 ms, stretching a ~5 ms
group several times over. At 1 ms the busy thread yields sooner: in six alternating pairs of
``bench/intake.py`` on a quiet machine the intake's p99 was 28.9-49.2 ms (median 33.8) against
23.7-87.4 ms (median 47) with the default, better in five pairs (bench/README, intake, seventh
round). CPU-bound work in one thread is unaffected; contended threads switch more often.
"""

from __future__ import annotations

import sys

SWITCH_INTERVAL_SECONDS = 0.001


def apply() -> None:
    """Set this process's GIL switch interval (the daemon and its HTTP front process)."""
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
