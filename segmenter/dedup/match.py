"""Verification of candidates and the no-chaining story rule, shared by every entry point.

* ``verify`` decides whether two signatures are copies: estimated Jaccard >= ``threshold``, or
  estimated containment of the smaller text in the bigger >= ``containment`` while the smaller is
  at least ``min_size_ratio`` of the bigger (a trimmed copy still matches its full original).
  Texts with fewer than ``min_tokens`` tokens never match anything.
* ``choose_story`` is the no-chaining rule: a text joins a story only if it matches the story's
  representative (its earliest member still present), or at least ``max(2, member_quorum *
  size)`` of its members (``Votes`` counts the matches per story). One bad edge to one member
  can therefore never glue two stories.
  Among eligible stories the best score wins (the similarity to the representative, or else the
  mean similarity to the matched members); ties go to the earliest story.
* ``assign_clusters`` replays arrivals in order with that rule. It is what ``cluster()`` and the
  Spark job call, and it gives the same stories as adding the texts one by one to a
  ``StoryIndex``. For identical results a distributed job must verify exactly the pairs
  ``cluster()`` verifies: inside each band bucket (members in arrival order), the pairs of
  ``lsh.bucket_pairs(len(bucket), config.max_bucket)``.
"""
from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .config import DedupConfig
from .minhash import containment, jaccard


def min_shingles(config: DedupConfig) -> int:
    """Fewest shingles a text needs to be merged at all (``min_tokens`` words)."""
    return max(1, config.min_tokens - config.ngram + 1)


ArrayLike = np.ndarray | float | int


def decide(jac: ArrayLike, cont: ArrayLike, size_a: ArrayLike, size_b: ArrayLike,
           config: DedupConfig) -> tuple[np.ndarray, np.ndarray]:
    """(is copy, similarity) from Jaccard and containment (estimated or exact) and set sizes.

    The similarity is the Jaccard, or for a trimmed copy (containment rule) the containment,
    whichever is higher.
    """
    size_a, size_b = np.asarray(size_a), np.asarray(size_b)
    ratio = np.minimum(size_a, size_b) / np.maximum(np.maximum(size_a, size_b), 1)
    by_containment = (cont >= config.containment) & (ratio >= config.min_size_ratio)
    big_enough = np.minimum(size_a, size_b) >= min_shingles(config)
    is_copy = big_enough & ((jac >= config.threshold) | by_containment)
    return is_copy, np.where(by_containment, np.maximum(jac, cont), jac)


def verify(sig_a: np.ndarray, size_a: ArrayLike, sig_b: np.ndarray, size_b: ArrayLike,
           config: DedupConfig) -> tuple[np.ndarray, np.ndarray]:
    """(is copy, similarity) from signatures and shingle counts (estimates); vectorised over rows."""
    jac = jaccard(sig_a, sig_b)
    return decide(jac, containment(jac, size_a, size_b), size_a, size_b, config)


def verify_exact(sets_a: Sequence[np.ndarray], sets_b: Sequence[np.ndarray],
                 config: DedupConfig) -> tuple[np.ndarray, np.ndarray]:
    """(is copy, similarity) from the sorted unique shingle hashes of each pair (``exact=True``).

    Exact Jaccard and containment, up to 32-bit hash collisions (~ n**2 / 2**32 per pair).
    """
    pairs = zip(sets_a, sets_b, strict=True)
    inter = np.array([len(np.intersect1d(a, b, assume_unique=True)) for a, b in pairs])
    size_a = np.array([len(a) for a in sets_a])
    size_b = np.array([len(b) for b in sets_b])
    union = np.maximum(size_a + size_b - inter, 1)
    jac = inter / union
    cont = inter / np.maximum(np.minimum(size_a, size_b), 1)
    return decide(jac, cont, size_a, size_b, config)


@dataclass
class Votes:
    """A new text's verified matches with the members of one story."""

    representative: float | None = None  # similarity to the story's representative, if matched
    count: int = 0                       # members matched (representative included)
    total: float = 0.0                   # sum of their similarities

    def add(self, similarity: float, is_representative: bool) -> None:
        """Count one verified match."""
        self.count += 1
        self.total += similarity
        if is_representative:
            self.representative = similarity


def choose_story(votes: dict[Hashable, Votes], story_sizes: dict, story_order: dict,
                 config: DedupConfig) -> tuple[Hashable, float] | None:
    """The story a text joins given its verified matches per story, and its score; None founds
    a new story.

    ``story_sizes``: current member count per story; ``story_order``: a sortable age per story
    (earlier first) used to break ties deterministically.
    """
    best = None
    for story, vote in votes.items():
        quorum = max(2, config.member_quorum * story_sizes[story])
        if vote.representative is None and vote.count < quorum:
            continue
        score = vote.representative if vote.representative is not None else vote.total / vote.count
        key = (-score, story_order[story])
        if best is None or key < best[0]:
            best = (key, story, score)
    return None if best is None else (best[1], best[2])


@dataclass(frozen=True)
class ClusterAssignment:
    """A text's cluster (the id of the cluster's representative) and its similarity to it."""

    id: Hashable
    cluster: Hashable
    similarity: float


def assign_clusters(ids: Sequence[Hashable], pairs: Iterable[tuple[Hashable, Hashable, float]],
                    config: DedupConfig) -> list[ClusterAssignment]:
    """Clusters from verified pairs (a, b, similarity), taking ``ids`` in arrival order.

    A union-find that only unions under the no-chaining rule (``choose_story``): each text, in
    order, joins the cluster of earlier texts it matches through the representative or a quorum,
    or founds its own. Deterministic: depends only on the order of ``ids`` and the pair set
    (not on the order of ``pairs``). Unknown ids in pairs are an error.
    """
    position = {doc_id: i for i, doc_id in enumerate(ids)}
    if len(position) != len(ids):
        raise ValueError("ids must be unique")
    first, second, sims = [], [], []
    for a, b, similarity in pairs:
        first.append(position[a])
        second.append(position[b])
        sims.append(float(similarity))
    clusters, scores = assign_positions(len(ids), np.array(first, dtype=np.int64),
                                        np.array(second, dtype=np.int64), np.array(sims), config)
    return [ClusterAssignment(doc_id, ids[c], s)
            for doc_id, c, s in zip(ids, clusters.tolist(), scores.tolist(), strict=True)]


def assign_positions(count: int, first: np.ndarray, second: np.ndarray, sims: np.ndarray,
                     config: DedupConfig) -> tuple[np.ndarray, np.ndarray]:
    """``assign_clusters`` on positions: pairs as arrays of positions (either order) and
    similarities -> (representative position of each text, its rounded similarity)."""
    keep = first != second
    later = np.maximum(first, second)[keep]
    earlier = np.minimum(first, second)[keep]
    order = np.lexsort((earlier, later))
    later, earlier, sims = later[order], earlier[order], np.asarray(sims, dtype=float)[keep][order]
    bounds = np.searchsorted(later, np.arange(count + 1)).tolist()
    cluster_of = np.arange(count)   # a cluster is named by its representative's position
    sizes = np.zeros(count, dtype=np.int64)
    scores = np.ones(count)
    for i in range(count):
        lo, hi = bounds[i], bounds[i + 1]
        if hi > lo:
            votes: dict[int, Votes] = {}
            for j, sim in zip(earlier[lo:hi].tolist(), sims[lo:hi].tolist(), strict=True):
                cluster = int(cluster_of[j])
                votes.setdefault(cluster, Votes()).add(sim, cluster == j)
            chosen = choose_story(votes, {c: int(sizes[c]) for c in votes}, {c: c for c in votes}, config)
            if chosen is not None:
                cluster_of[i], scores[i] = chosen
        sizes[cluster_of[i]] += 1
    return cluster_of, np.round(scores, 4)
