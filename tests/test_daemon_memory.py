"""Memory (issue 16): what ``yuqing run`` imports stays out of the daemon unless it is used.

Alembic with Mako (~9 MB resident) never loads in the daemon: a due migration runs in a child
process (``Database.upgrade_in_child``, +13 MB of peak RSS saved on a fresh database); rich (~5 MB) is kept
out of structlog's import; Litestar (~8 MB) only when the daemon serves HTTP; requests (~5 MB)
only when a heartbeat URL is pinged. Each probe runs in a fresh interpreter.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from monitor.storage.db import Database

LAZY = ("alembic", "rich", "litestar", "requests")
_PROBE = """
import sys
from monitor.storage.db import Database
import monitor.cli, monitor.cli_run, monitor.daemon
db = Database(sys.argv[1])
state = db.schema()
db.upgrade_in_child()  # as yuqing run does
print(state.status, db.current_revision(), *(name in sys.modules for name in sys.argv[2:]))
"""


def test_a_daemon_on_a_current_schema_loads_none_of_the_lazy_libraries(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    head = Database(url).revisions()[-1]
    run = [sys.executable, "-c", _PROBE, url, *LAZY]
    first = subprocess.run(run, capture_output=True, text=True, check=True).stdout.split()
    assert first == ["missing", head, "False", "False", "False", "False"]  # migrated by a child process
    again = subprocess.run(run, capture_output=True, text=True, check=True).stdout.split()
    assert again == ["current", head, "False", "False", "False", "False"]


def test_the_health_router_still_builds_where_http_is_served() -> None:
    code = "import sys; from monitor.http.health import health_router; print('litestar' in sys.modules)"
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert answer.stdout.split() == ["True"]
