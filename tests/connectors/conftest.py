from __future__ import annotations

import pytest


@pytest.fixture
def secret_values() -> list[str]:
    """Secret strings of the connector under test; override in modules whose config has secrets."""
    return []
