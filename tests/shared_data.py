"""Where the shared test data (``shared/data``: recordings, samples, corpora) lives.

Next to the project (``../shared/data``) in a working checkout; CI may clone the project
elsewhere, so ``$YUQING_SHARED_DATA`` and the workplace's fixed location are tried too. When none
exists the first candidate is returned and the tests that need it fail (they never skip).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _locate() -> Path:
    candidates = [
        Path(os.environ["YUQING_SHARED_DATA"]) if os.environ.get("YUQING_SHARED_DATA") else None,
        ROOT.parent / "shared" / "data",
        Path("/work/shared/data"),
    ]
    found = [c for c in candidates if c is not None]
    return next((c for c in found if c.is_dir()), found[0])


SHARED_DATA = _locate()
