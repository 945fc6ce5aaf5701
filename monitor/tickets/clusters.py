"""An in-memory index of story clusters: find the cluster a post belongs to, or start one.

Pure and database-free (the incident step seeds it with the candidate clusters of a batch and
writes back what changed; the benchmark runs it alone over 100,000 posts).
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.tickets.fingerprint import Fingerprint


@dataclass(frozen=True, slots=True)
class ClusterRef:
    """A cluster in the index: its position, database id (None while new) and first sketch."""

    index: int
    cluster_id: int | None
    sketch: tuple[int, ...]


class ClusterIndex:
    """Clusters keyed by their smallest hashes; a post joins the most similar candidate."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.clusters: list[ClusterRef] = []
        self._by_key: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return len(self.clusters)

    def add(self, fp: Fingerprint, cluster_id: int | None = None) -> ClusterRef:
        ref = ClusterRef(len(self.clusters), cluster_id, fp.sketch)
        self.clusters.append(ref)
        for key in fp.keys:
            self._by_key.setdefault(key, []).append(ref.index)
        return ref

    def find(self, fp: Fingerprint) -> ClusterRef | None:
        """The most similar cluster at or above the threshold (ties: the oldest)."""
        best: ClusterRef | None = None
        best_score = self.threshold
        seen: set[int] = set()
        for key in fp.keys:
            for index in self._by_key.get(key, ()):
                if index in seen:
                    continue
                seen.add(index)
                ref = self.clusters[index]
                score = fp.similarity(ref.sketch)
                if score > best_score or (score == best_score and (best is None or index < best.index)):
                    best, best_score = ref, score
        return best

    def assign(self, fp: Fingerprint) -> tuple[ClusterRef, bool]:
        """The post's cluster and whether it was created for it."""
        found = self.find(fp)
        if found is not None:
            return found, False
        return self.add(fp), True
