"""Near-duplicate fingerprints: clean a post, cut it into features, MinHash them into LSH bands.

Reposts and copy-paste complaints differ in the noise around the story - ``//@user:`` repost
chains, ``RT @user:``, mentions, links, ``#hashtags#`` - so that noise is stripped first. Text is
then normalised (NFKC, case-folded, traditional -> simplified with OpenCC, as the analysis stage
does) and cut into features: overlapping character bigrams for CJK runs (robust to segmentation
and to trad/simp variants, several times faster than a dictionary segmenter) and whole words for
Latin script.

MinHash rather than SimHash: posts are short, and a repost that adds "转发" or a two-word comment
moves a 64-bit SimHash of a 20-bigram post by 5-10 bits, beyond any radius that banding can index;
the Jaccard similarity MinHash estimates degrades gracefully instead (0.9 for that repost). We use
the one-hash bottom-k variant: a post's sketch is the ``SKETCH`` smallest feature hashes (all of
them for a short post, so short posts compare exactly). Two posts share their minimum hash with
probability equal to their Jaccard similarity, so the ``KEYS`` smallest hashes are the index keys
for candidates; a candidate joins when the estimated similarity reaches the configured threshold.
One cached hash per feature and one sort: ~15 µs per post (k-permutation MinHash was ~60 µs).
"""

from __future__ import annotations

import hashlib
import heapq
import re
import struct
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass

import opencc

SKETCH = 24  # bottom-k sketch size: posts with fewer features are compared exactly
BANDS, ROWS = 4, 2  # LSH index: 4 bands of 2 independent minima; candidate P = 1-(1-J^2)^4
KEYS = BANDS
MAX_FEATURES = 2000
_MASK63 = (1 << 63) - 1

_REPOST_CHAIN = re.compile(r"//\s*@[^:：\s]{1,30}\s*[:：]")
_RETWEET = re.compile(r"^\s*(?:RT|转发微博|轉發微博|Repost)\s*(?:@[^:：\s]{1,30}\s*[:：])?", re.IGNORECASE)
_MENTION = re.compile(r"@[\w\-.\u3400-\u9fff]{1,30}")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_HASHTAG = re.compile(r"#[^#\n]{1,60}#|#\w+")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[a-z0-9][a-z0-9'_-]*")
_CONVERTER = opencc.OpenCC("t2s")
_blake2b = hashlib.blake2b


def strip_noise(text: str) -> str:
    """Remove repost chains, retweet prefixes, mentions, URLs and hashtags."""
    text = _RETWEET.sub(" ", text)
    text = _REPOST_CHAIN.sub(" ", text)
    text = _URL.sub(" ", text)
    text = _HASHTAG.sub(" ", text)
    return _MENTION.sub(" ", text)


def normalise(text: str) -> str:
    return str(_CONVERTER.convert(unicodedata.normalize("NFKC", text).casefold()))


def features(text: str) -> set[str]:
    """Bigrams of CJK runs plus Latin words, after stripping noise and normalising."""
    clean = normalise(strip_noise(text))
    out: list[str] = []
    for run in _CJK_RUN.findall(clean):
        if len(run) == 1:
            out.append(run)
        else:
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
    out.extend(_WORD.findall(_CJK_RUN.sub(" ", clean)))
    return set(out[:MAX_FEATURES])


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A post's bottom-k MinHash sketch (sorted) and its LSH band keys (empty: nothing left)."""

    sketch: tuple[int, ...]
    keys: tuple[int, ...] = ()

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


def _band_key(band: int, values: tuple[int, ...]) -> int:
    data = b"".join(v.to_bytes(8, "little") for v in values) + bytes([band])
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little") & _MASK63


def sketch_of(feats: set[str]) -> Fingerprint:
    """The ``SKETCH`` smallest feature hashes (8-byte BLAKE2b, top bit cleared: fits a signed
    BIGINT, the same in every process unlike ``hash``) and the band keys of the per-column minima
    of each feature's BANDS*ROWS independent hashes (64-byte BLAKE2b, person ``yuqing-lsh``, eight
    little-endian words, top bit cleared). All features at once: the digests are joined and
    unpacked in one call each (a long mail has ~1,000 features; per-feature tuples cost 2.5x)."""
    if not feats:
        return EMPTY
    encoded = [feature.encode("utf-8") for feature in feats]
    count, width = len(encoded), BANDS * ROWS
    rows = b"".join([_blake2b(e, digest_size=8 * width, person=b"yuqing-lsh").digest() for e in encoded])
    values = struct.unpack(f"<{count * width}Q", rows)
    minima = tuple(min(map(_MASK63.__and__, values[column::width])) for column in range(width))
    keys = tuple(_band_key(b, minima[b * ROWS : (b + 1) * ROWS]) for b in range(BANDS))
    hashes = struct.unpack(f"<{count}Q", b"".join([_blake2b(e, digest_size=8).digest() for e in encoded]))
    return Fingerprint(tuple(heapq.nsmallest(SKETCH, map(_MASK63.__and__, hashes))), keys)


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
    made = sketch_of(features(text))
    with _recent_lock:
        _recent[key] = made
        if len(_recent) > _RECENT:
            _recent.popitem(last=False)
    return made


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0
