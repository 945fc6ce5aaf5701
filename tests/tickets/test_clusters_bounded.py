"""Clustering cost per post is bounded: a hot LSH bucket keeps only its newest clusters as
candidates, and the fingerprint cache is keyed by digests, not by the texts."""

from __future__ import annotations

import pytest

from monitor.tickets import fingerprint as fp_module
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


def _reference(feats: set[str]) -> Fingerprint:
    """The per-feature definition stored sketches and band keys were made with (kept stable: a
    changed hash would split every story across an upgrade)."""
    import hashlib

    mask = (1 << 63) - 1

    def row(feature: str) -> tuple[int, ...]:
        digest = hashlib.blake2b(feature.encode(), digest_size=64, person=b"yuqing-lsh").digest()
        return tuple(int.from_bytes(digest[i : i + 8], "little") & mask for i in range(0, 64, 8))

    def one(feature: str) -> int:
        return int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little") & mask

    minima = tuple(map(min, zip(*map(row, feats), strict=True)))
    keys = tuple(fp_module._band_key(b, minima[b * 2 : b * 2 + 2]) for b in range(4))
    return Fingerprint(tuple(sorted(map(one, feats))[: fp_module.SKETCH]), keys)


@pytest.mark.parametrize(
    "text",
    ["转发微博 好", "a", "RT @x: hello world", "质量很好 质量很好", "我要投诉你们的售后服务，快递三天没到" * 40],
)
def test_sketches_are_the_per_feature_definition(text: str) -> None:
    feats = fp_module.features(text)
    assert fp_module.sketch_of(feats) == _reference(feats)
