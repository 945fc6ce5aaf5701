"""Three ``yuqing run`` processes on one PostgreSQL or MariaDB database, one SIGKILLed periodically.

20 ``files`` sources receive generated feedback over ~50 s; every ``KILL_EVERY`` seconds (once all
three run) one instance in turn is killed with SIGKILL and started again ``RESTART_AFTER`` seconds
later - or, every other time, frozen with SIGSTOP for as long and then continued, so it wakes up
holding leases the others have taken (fencing) - and its sources must be taken over by the others
once its leases expire. At the end: every message
stored exactly once, one ticket per conversation, every notification delivered to the webhook
receiver (counted by ``Idempotency-Key``) - re-sends after a kill carry the same key, and at most
one per kill - and every source the killed instance held was polled by another instance within
the lease expiry plus one poll interval of the kill (plus ``SLACK`` for a loaded machine).

CI size here; the full size (50,000 messages, a kill every 20 s) is ``bench/scale.py --fault``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import server_database
from tests.helpers.cluster import Size, check, run_cluster, summary


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_three_instances_with_kills_lose_and_double_nothing(kind: str, tmp_path: Path) -> None:
    size = Size()
    with server_database(kind) as url:
        outcome = run_cluster(tmp_path, url, size)
    print(summary(outcome))
    check(outcome, size)
