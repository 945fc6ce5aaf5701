"""yuqing (輿情): feedback and public-opinion monitor.

The flow, one package per stage::

    connectors/ -> monitor/ingest -> monitor/analysis -> monitor/tickets -> monitor/alerts
"""

from __future__ import annotations

import sys

__version__ = "0.1.0"


def _structlog_without_rich() -> None:
    """Import structlog with ``rich`` hidden, so the daemon does not carry it (~5 MB resident).

    ``structlog.dev`` imports rich at import time, when it is installed, only to offer rich
    tracebacks in its console renderer; ours renders exceptions as plain text (JSON lines under
    systemd; ``format_exc_info`` before the renderer). rich stays importable afterwards for the CLI
    tables and progress bars that use it (they import it where they need it).
    """
    if "structlog" in sys.modules or "rich" in sys.modules:
        return
    sys.modules["rich"] = None  # type: ignore[assignment]  # None in sys.modules: ImportError
    try:
        import structlog  # noqa: F401
    finally:
        if "rich" in sys.modules and sys.modules["rich"] is None:
            del sys.modules["rich"]


_structlog_without_rich()
