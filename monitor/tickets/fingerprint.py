"""Near-duplicate fingerprints: a post's features (``monitor.tickets.shingles``) MinHashed into a
bottom-k sketch and LSH band keys.

MinHash rather than SimHash: posts are short, and a repost that adds "转发" or a two-word comment
moves a 64-bit SimHash of a 20-bigram post by 5-10 bits, beyond any radius that banding can index;
the Jaccard similarity MinHash estimates degrades gracefully instead (0.9 for that repost).

One 63-bit hash per feature, sorted once, gives both parts:

* the sketch is the ``SKETCH`` smallest hashes (bottom-k; all of them for a short post, so short
  posts compare exactly) - a candidate joins when the estimated similarity reaches the threshold;
* the band keys come from one-permutation hashing (Li, Owen, Zhang 2012): the top three bits of a
  hash put it in one of ``BANDS * ROWS`` bins, and two posts share a bin's minimum with
  probability equal to their Jaccard similarity, as with as many independent hashes. In the
  sorted hashes a bin's minimum is the first hash at or above the bin's start (a bisection). A
  short post leaves bins empty; an empty bin takes the minimum of the first non-empty bin in its
  own fixed order of the others (optimal densification, Shrivastava 2017), so the keys of two
  posts still agree with that probability. ``ROWS`` minima make a band key, so a pair with
  similarity J shares a key with probability ~ 1-(1-J^2)^4.

A long mail costs ~0.25 ms (the BLAKE2b per feature and per LSH row before cost ~2 ms). Stored
sketches and keys must be made the same way as new ones: migration 0018 recomputed the ones
stored before (see ``tests/tickets/test_fingerprint.py`` for the per-feature definition).
"""

from __future__ import annotations

import hashlib
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from monitor.tickets.shingles import MASK63, feature_hashes, features, jaccard, normalise, strip_noise

__all__ = [
    "BANDS",
    "EMPTY",
    "ROWS",
    "SKETCH",
    "Fingerprint",
    "features",
    "fingerprint",
    "jaccard",
    "normalise",
    "remember",
    "sketch_of",
    "sketch_similarity",
    "strip_noise",
]

SKETCH = 24  # bottom-k sketch size: posts with fewer features are compared exactly
BANDS, ROWS = 4, 2  # LSH index: 4 bands of 2 bin minima; candidate P = 1-(1-J^2)^4
BINS = BANDS * ROWS
_BIN_BITS = 3  # BINS = 2**_BIN_BITS bins by the top bits of a 63-bit hash
_BIN_STARTS = np.arange(BINS + 1, dtype=np.uint64) << np.uint64(63 - _BIN_BITS)


def _borrow_order(empty: int) -> tuple[int, ...]:
    """The bins an empty bin borrows from, first non-empty first: a fixed pseudo-random order."""
    def rank(other: int) -> bytes:
        return hashlib.blake2b(bytes([empty, other]), digest_size=8, person=b"yuqing-oph").digest()

    return tuple(sorted((b for b in range(BINS) if b != empty), key=rank))


_BORROW = tuple(_borrow_order(b) for b in range(BINS))


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A post's bottom-k MinHash sketch (sorted) and its LSH band keys (empty: nothing left)."""

    sketch: tuple[int, ...]
    keys: tuple[int, ...] = ()

    def __reduce__(self) -> tuple[type[Fingerprint], tuple[tuple[int, ...], tuple[int, ...]]]:
        # computed in the analysis workers and pickled back: the constructor is ~3x cheaper than
        # a frozen slots dataclass's own unpickling (see monitor.findings.Match.__reduce__)
        return (Fingerprint, (self.sketch, self.keys))

    @property
    def empty(self) -> bool:
        return not self.sketch

    def similarity(self, other: tuple[int, ...]) -> float:
        """Estimated Jaccard similarity with another sketch (exact for short posts)."""
        return sketch_similarity(frozenset(self.sketch), frozenset(other))


def sketch_similarity(mine: frozenset[int], theirs: frozenset[int]) -> float:
    """Bottom-k estimate of Jaccard: of the ``SKETCH`` smallest hashes of both sketches together,
    the share that is in both (all of them, i.e. exact Jaccard, when they are fewer)."""
    both = mine & theirs
    if not both:
        return 0.0  # also: an empty sketch is similar to nothing
    union = len(mine) + len(theirs) - len(both)
    if union <= SKETCH:
        return len(both) / union
    cut = sorted(mine | theirs)[SKETCH - 1]
    return sum(1 for value in both if value <= cut) / SKETCH


EMPTY = Fingerprint(())


_BAND = struct.Struct(f"<{ROWS}QB")


def _band_key(band: int, values: tuple[int, ...]) -> int:
    """A band's key: the 8-byte BLAKE2b of its minima (little-endian) and its number."""
    digest = hashlib.blake2b(_BAND.pack(*values, band), digest_size=8).digest()
    return int.from_bytes(digest, "little") & MASK63


def bin_minima(hashes: npt.NDArray[np.uint64]) -> tuple[int, ...]:
    """Each bin's smallest hash, densified: an empty bin borrows from the first non-empty bin of
    its ``_BORROW`` order. ``hashes``: sorted, distinct, not empty."""
    starts = np.searchsorted(hashes, _BIN_STARTS).tolist()
    last = len(hashes) - 1
    firsts = hashes[[min(start, last) for start in starts[:-1]]].tolist()
    raw = [firsts[b] if starts[b] < starts[b + 1] else None for b in range(BINS)]
    return tuple(
        found if found is not None else next(v for v in (raw[o] for o in _BORROW[b]) if v is not None)
        for b, found in enumerate(raw)
    )


def sketch_of(hashes: npt.NDArray[np.uint64]) -> Fingerprint:
    """The fingerprint of sorted, distinct feature hashes (``shingles.feature_hashes``)."""
    if not len(hashes):
        return EMPTY
    minima = bin_minima(hashes)
    keys = tuple(_band_key(b, minima[b * ROWS : (b + 1) * ROWS]) for b in range(BANDS))
    return Fingerprint(tuple(hashes[:SKETCH].tolist()), keys)


_RECENT = 4_096  # fingerprints remembered, by a 16-byte digest of the text (never the text itself)
_recent: OrderedDict[bytes, Fingerprint] = OrderedDict()
_recent_lock = threading.Lock()


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def remember(text: str, made: Fingerprint) -> None:
    """Keep a fingerprint computed elsewhere (an analysis worker) for :func:`fingerprint` to find."""
    with _recent_lock:
        _recent[_key(text)] = made
        _recent.move_to_end(_key(text))
        if len(_recent) > _RECENT:
            _recent.popitem(last=False)


def fingerprint(text: str) -> Fingerprint:
    """The post's fingerprint. Reposts and copy-paste complaints repeat the same text, so recent
    fingerprints are kept - keyed by a digest, so memory does not grow with the texts' length."""
    key = _key(text)
    with _recent_lock:
        found = _recent.get(key)
        if found is not None:
            _recent.move_to_end(key)
            return found
    made = sketch_of(feature_hashes(text))
    with _recent_lock:
        _recent[key] = made
        if len(_recent) > _RECENT:
            _recent.popitem(last=False)
    return made
