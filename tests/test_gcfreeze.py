"""The daemon's GC job freezes long-lived objects out of full collections, and every so often
sweeps the whole heap, so that cycles which died after their freeze are still collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from monitor.gcfreeze import Refreezer


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_run_freezes_what_is_alive_and_a_sweep_collects_cycles_that_died_since() -> None:
    refreeze = Refreezer(sweep_every=2)
    node = Node()
    alive = weakref.ref(node)
    refreeze()  # run 1: freeze
    assert gc.get_freeze_count() > 0
    assert not any(obj is node for obj in gc.get_objects())  # out of every generation
    del node
    gc.collect()
    assert alive() is not None  # frozen: a full collection does not look at it
    refreeze()  # run 2: the sweep
    assert alive() is None
