"""Clustering cost per post is bounded: a hot LSH bucket keeps only its newest clusters as
candidates, and the fingerprint cache is keyed by digests, not by the texts."""

from __future__ import annotations

import pytest

from monitor.tickets import fingerprint as fp_module
from monitor.tickets import shingles
from monitor.tickets.clusters import BUCKET, ClusterIndex
from monitor.tickets.fingerprint import Fingerprint, fingerprint


@pytest.mark.parametrize("stored", [BUCKET, 10 * BUCKET, 1_000], ids=["one-bucket", "ten-buckets", "thousand"])
def test_a_hot_bucket_offers_at_most_its_newest_clusters(stored: int, monkeypatch: pytest.MonkeyPatch) -> None:
    index = ClusterIndex(0.5)
    for number in range(stored):  # all share key 7: distinct sketches, one hot bucket
        index.add(Fingerprint(tuple(range(number * 100, number * 100 + 24)), (7, 1000 + number)), number)
    compared: list[int] = []
    real = fp_module.sketch_similarity

    def counting(mine: frozenset[int], theirs: frozenset[int]) -> float:
        compared.append(1)
        return real(mine, theirs)

    monkeypatch.setattr("monitor.tickets.clusters.sketch_similarity", counting)
    newest = stored - 1
    found = index.find(Fingerprint(tuple(range(newest * 100, newest * 100 + 24)), (7,)))
    assert len(compared) == min(stored, BUCKET)
    assert found is not None and found.cluster_id == newest


def test_fingerprint_cache_keeps_no_text() -> None:
    text = "快递三天了还没到，我要投诉" * 200
    first = fingerprint(text)
    assert fingerprint(text) is first
    assert all(isinstance(key, bytes) and len(key) == 16 for key in fp_module._recent)
    assert text not in fp_module._recent.values()


def _reference(text: str) -> Fingerprint:
    """The per-feature definition stored sketches and band keys are made with (kept stable: a
    changed hash splits every story across an upgrade unless a migration recomputes the stored
    ones, as 0018 did): one ``feature_hash`` per feature, the 24 smallest as the sketch, and the
    smallest hash of each of 8 bins by the top three bits - an empty bin borrowing from the first
    non-empty one in its fixed order - two per band key."""
    hashes = sorted({shingles.feature_hash(feature) for feature in fp_module.features(text)})
    if not hashes:
        return fp_module.EMPTY
    raw = [min((h for h in hashes if h >> 60 == b), default=None) for b in range(8)]
    minima = [v if v is not None else next(raw[o] for o in fp_module._BORROW[b] if raw[o] is not None)
              for b, v in enumerate(raw)]
    keys = tuple(fp_module._band_key(b, (minima[2 * b], minima[2 * b + 1])) for b in range(4))
    return Fingerprint(tuple(hashes[:24]), keys)


@pytest.mark.parametrize(
    "text",
    ["转发微博 好", "a", "RT @x: hello world", "质量很好 质量很好", "我要投诉你们的售后服务，快递三天没到" * 40],
)
def test_sketches_are_the_per_feature_definition(text: str) -> None:
    assert fp_module.sketch_of(shingles.feature_hashes(text)) == _reference(text)
