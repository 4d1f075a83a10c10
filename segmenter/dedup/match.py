"""Verification of candidates and the no-chaining story rule, shared by every entry point.

* ``verify`` decides whether two signatures are copies: estimated Jaccard >= ``threshold``, or
  estimated containment of the smaller text in the bigger >= ``containment`` while the smaller is
  at least ``min_size_ratio`` of the bigger (a trimmed copy still matches its full original).
  Texts with fewer than ``min_tokens`` tokens never match anything.
* ``choose_story`` is the no-chaining rule: a text joins a story only if it matches the story's
  representative (its earliest member still present), or at least ``max(2, member_quorum *
  size)`` of its members. One bad edge to one member can therefore never glue two stories.
  Among eligible stories the best score wins (the similarity to the representative, or else the
  mean similarity to the matched members); ties go to the earliest story.
* ``assign_clusters`` replays arrivals in order with that rule. It is what ``cluster()`` and the
  Spark job call, and it gives the same stories as adding the texts one by one to a
  ``StoryIndex``.
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


@dataclass(frozen=True)
class StoryMatch:
    """One verified match of a new text with an existing member of a story."""

    story: Hashable
    member: Hashable
    similarity: float
    is_representative: bool


def choose_story(matches: Iterable[StoryMatch], story_sizes: dict, story_order: dict,
                 config: DedupConfig) -> tuple[Hashable, float] | None:
    """The story a text joins given its verified matches, and its score; None founds a new one.

    ``story_sizes``: current member count per story; ``story_order``: a sortable age per story
    (earlier first) used to break ties deterministically.
    """
    by_story: dict = {}
    for match in matches:
        by_story.setdefault(match.story, []).append(match)
    best = None
    for story, found in by_story.items():
        rep = [m.similarity for m in found if m.is_representative]
        quorum = max(2, config.member_quorum * story_sizes[story])
        if not rep and len(found) < quorum:
            continue
        score = rep[0] if rep else float(np.mean([m.similarity for m in found]))
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
    earlier: list[list[tuple[int, float]]] = [[] for _ in ids]
    for a, b, similarity in pairs:
        i, j = position[a], position[b]
        if i != j:
            earlier[max(i, j)].append((min(i, j), float(similarity)))
    cluster_of: list[int] = []   # index of the representative of each text's cluster
    sizes: dict[int, int] = {}
    out = []
    for i, doc_id in enumerate(ids):
        matches = [StoryMatch(cluster_of[j], j, sim, cluster_of[j] == j) for j, sim in sorted(earlier[i])]
        chosen = choose_story(matches, sizes, {c: c for c in sizes}, config)
        rep, score = (i, 1.0) if chosen is None else chosen
        cluster_of.append(rep)
        sizes[rep] = sizes.get(rep, 0) + 1
        out.append(ClusterAssignment(doc_id, ids[rep], round(float(score), 4)))
    return out
