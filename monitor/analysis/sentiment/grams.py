"""Weights of one- and two-character grams, summed in text order for a whole text at once.

:meth:`~.linear.LinearModel.margin` needs the weight of every character and every pair of
neighbouring characters of a text, in text order: ~3,800 lookups for a long mail. A Python dict
answers each one with a new int key and, for the 31,000 bigrams, two or three cache misses. For a
long text the lookups are answered instead by a few array operations over a two-choice cuckoo hash
table (a key can only sit in one of two slots: two gathers and two compares), or for single
characters by one gather from a table indexed by code point; a short text (a post) keeps the dict,
which is cheaper than the arrays' fixed cost per call.

Either way the weights are added with Python's ``sum`` in text order, so the total is the same
float: a missing gram adds ``0.0``, which leaves a sum unchanged, so the array path drops misses
before summing.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from itertools import repeat

import numpy as np
import numpy.typing as npt

_UTF32 = "utf-32-le" if sys.byteorder == "little" else "utf-32-be"  # native: one code point per "I"
_MULTIPLIERS = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F)  # odd: multiplicative hashing
_M0, _M1 = (np.uint64(m) for m in _MULTIPLIERS)
_EMPTY = (1 << 64) - 1  # no key: code points stay below 2**21, a pair below 2**53
_MAX_KICKS = 500
_DENSE = 0x10000  # code points a dense table covers (the Basic Multilingual Plane)
SHORT = 200
"""Keys below which a dict lookup per key beats the array operations (measured on posts and mail)."""

Weights = npt.NDArray[np.float64]


def codes(text: str) -> memoryview:
    """The code points of ``text`` as unsigned ints (lone surrogates included)."""
    return memoryview(text.encode(_UTF32, "surrogatepass")).cast("I")


def pairs(points: memoryview) -> memoryview:
    """One int per pair of neighbouring code points (``points[i]``, ``points[i + 1]``): the two side
    by side in one 8-byte item, read as an unsigned 64-bit int."""
    buf = bytearray(8 * max(0, len(points) - 1))
    halves = memoryview(buf).cast("I")
    halves[0::2] = points[:-1]
    halves[1::2] = points[1:]
    return memoryview(buf).cast("Q")


def gram_key(gram: str) -> int:
    """The key a one- or two-character gram is stored under."""
    points = codes(gram)
    key: int = points[0] if len(gram) == 1 else pairs(points)[0]
    return key


class GramTable:
    """``key -> weight`` for a fixed set of grams (keys from :func:`codes` or :func:`pairs`)."""

    def __init__(self, weights: Mapping[int, float]) -> None:
        self._by_key = dict(weights)
        bits = max(4, (4 * len(weights)).bit_length())  # at most a quarter full: inserts settle fast
        while (built := _build(weights, bits)) is None:
            bits += 1
        self._keys, self._values = built
        self._shift = np.uint64(64 - bits)
        # single characters of the Basic Multilingual Plane (all of the shipped model's): one
        # weight per code point (512 KB), so a text's weights are one gather; U+FFFF, where every
        # larger code point is clipped to, must stay 0.0
        self._dense: Weights | None = None
        if all(0 <= key < _DENSE - 1 for key in weights):
            self._dense = np.zeros(_DENSE, dtype=np.float64)
            for key, value in weights.items():
                self._dense[key] = value

    def total(self, keys: memoryview) -> float:
        """``sum`` of the weights of ``keys`` in their order (a key without a weight adds nothing)."""
        if len(keys) < SHORT:
            return sum(map(self._by_key.get, keys, repeat(0.0)))
        found: list[float]
        if keys.format == "I" and self._dense is not None:
            weights = np.take(self._dense, np.frombuffer(keys, dtype=np.uint32), mode="clip")
            found = weights[weights != 0.0].tolist()  # a zero weight adds nothing either
        else:
            wanted = np.frombuffer(keys, dtype=np.uint32 if keys.format == "I" else np.uint64)
            found = self._found(wanted.astype(np.uint64, copy=False)).tolist()
        return sum(found)

    def _found(self, keys: npt.NDArray[np.uint64]) -> Weights:
        """The weights of the keys that have one, in the order of ``keys`` (the others left out)."""
        slots = self._keys
        first = (keys * _M0) >> self._shift
        second = (keys * _M1) >> self._shift
        in_first = slots[first] == keys
        in_second = slots[second] == keys
        found: Weights = np.where(in_first, self._values[first], self._values[second])
        hits: Weights = found[in_first | in_second]
        return hits


def _build(weights: Mapping[int, float], bits: int) -> tuple[npt.NDArray[np.uint64], Weights] | None:
    """Cuckoo insertion into ``2**bits`` slots; ``None`` when an insertion does not settle."""
    size = 1 << bits
    shift = 64 - bits
    mask = (1 << 64) - 1
    keys: list[int] = [_EMPTY] * size
    values: list[float] = [0.0] * size
    for new, weight in weights.items():
        if not 0 <= new < _EMPTY:
            raise ValueError(f"gram key out of range: {new}")
        key, value = new, weight
        slot = ((key * _MULTIPLIERS[0]) & mask) >> shift
        for _ in range(_MAX_KICKS):
            if keys[slot] == _EMPTY:
                keys[slot], values[slot] = key, value
                break
            keys[slot], key = key, keys[slot]
            values[slot], value = value, values[slot]
            one, two = (((key * m) & mask) >> shift for m in _MULTIPLIERS)
            slot = two if slot == one else one  # the evicted key moves to its other slot
        else:
            return None
    return np.array(keys, dtype=np.uint64), np.array(values, dtype=np.float64)
