"""yuqing (輿情): feedback and public-opinion monitor.

The flow, one package per stage::

    connectors/ -> monitor/ingest -> monitor/analysis -> monitor/tickets -> monitor/alerts
"""

from __future__ import annotations

__version__ = "0.1.0"
