"""jieba, imported without ``pkg_resources``.

jieba's ``_compat`` imports ``pkg_resources`` only to open its bundled dictionary files and falls
back to plain paths when it is missing. Importing ``pkg_resources`` costs about 12 MB of resident
memory and half a second in every daemon and analysis worker, so it is hidden while jieba loads
(unless something imported it already).
"""

from __future__ import annotations

import sys

_present = "pkg_resources" in sys.modules
if not _present:
    sys.modules["pkg_resources"] = None  # type: ignore[assignment]  # import fails: jieba's fallback
try:
    import jieba
finally:
    if not _present:
        del sys.modules["pkg_resources"]

__all__ = ["jieba"]
