"""An in-memory index of story clusters: find the cluster a post belongs to, or start one.

Pure and database-free (the incident step seeds it with the candidate clusters of a batch and
writes back what changed; the benchmark runs it alone over 100,000 posts).
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.tickets.fingerprint import Fingerprint, sketch_similarity

# Candidates per LSH bucket: a post is compared with at most this many clusters per band key (the
# newest), so its cost does not grow with the number of stored clusters even when a bucket is hot
# (template mail, a boilerplate greeting). A true near-duplicate shares most of its keys anyway.
BUCKET = 8


@dataclass(frozen=True, slots=True)
class ClusterRef:
    """A cluster in the index: its position, database id (None while new) and first sketch."""

    index: int
    cluster_id: int | None
    sketch: tuple[int, ...]


class ClusterIndex:
    """Clusters keyed by their LSH band keys; a post joins the most similar candidate among at
    most ``BUCKET`` newest clusters per key."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.clusters: list[ClusterRef] = []
        self._sets: list[frozenset[int]] = []  # each cluster's sketch as a set, for the comparisons
        self._by_key: dict[int, list[int]] = {}
        # a fingerprint seen before: its best cluster then and how many clusters there were. Clusters
        # never change their sketch and are only appended, so only the ones added since are compared.
        self._memo: dict[Fingerprint, tuple[ClusterRef | None, float, int]] = {}

    def __len__(self) -> int:
        return len(self.clusters)

    def add(self, fp: Fingerprint, cluster_id: int | None = None) -> ClusterRef:
        ref = ClusterRef(len(self.clusters), cluster_id, fp.sketch)
        self.clusters.append(ref)
        self._sets.append(frozenset(fp.sketch))
        for key in fp.keys:
            bucket = self._by_key.setdefault(key, [])
            bucket.append(ref.index)
            if len(bucket) > BUCKET:
                del bucket[0]  # the oldest cluster of a hot bucket stops being a candidate
        return ref

    def find(self, fp: Fingerprint) -> ClusterRef | None:
        """The most similar cluster at or above the threshold (ties: the oldest)."""
        best, best_score, first = self._memo.get(fp, (None, self.threshold, 0))
        mine = frozenset(fp.sketch)
        seen: set[int] = set()
        for key in fp.keys:
            for index in self._by_key.get(key, ()):
                if index < first or index in seen:
                    continue
                seen.add(index)
                score = sketch_similarity(mine, self._sets[index])
                if score > best_score or (score == best_score and (best is None or index < best.index)):
                    best, best_score = self.clusters[index], score
        self._memo[fp] = (best, best_score, len(self.clusters))
        return best

    def assign(self, fp: Fingerprint) -> tuple[ClusterRef, bool]:
        """The post's cluster and whether it was created for it."""
        found = self.find(fp)
        if found is not None:
            return found, False
        return self.add(fp), True
