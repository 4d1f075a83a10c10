"""Batch clustering of a whole collection: ``cluster(docs, config)``.

The same steps a distributed job runs, in one process: bulk signatures, band keys, candidate
pairs (texts sharing a band key; ``lsh.bucket_pairs`` says which pairs of a bucket), verification
of every candidate, then ``assign_clusters`` (the union-find with the no-chaining rule; here its
position-based core ``assign_positions``). The Spark job runs the first four per partition / per band
key and collects the verified pairs to call ``assign_clusters``, so its clusters are identical.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .config import DedupConfig
from .document import Document
from .lsh import band_keys, candidate_pairs
from .match import ClusterAssignment, assign_positions, min_shingles, verify, verify_exact
from .minhash import sketch

BATCH = 1000  # texts per signature batch: large enough for numpy, small enough for memory
VERIFY_CHUNK = 20_000  # candidate pairs verified at once: 2 x 20,000 gathered signatures = 20 MB


def bulk_signatures(texts: Sequence[str], config: DedupConfig
                    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray] | None]:
    """(signatures, sizes, shingle sets or None) of many texts, in batches (see ``minhash.sketch``)."""
    sigs, sizes, sets = [], [], []
    for start in range(0, len(texts), BATCH):
        sig, size, batch_sets = sketch(texts[start:start + BATCH], config)
        sigs.append(sig)
        sizes.append(size)
        sets.extend(batch_sets or [])
    if not sigs:
        return np.zeros((0, config.num_perm), np.uint32), np.zeros(0, np.int64), [] if config.exact else None
    return np.concatenate(sigs), np.concatenate(sizes), sets if config.exact else None


def verified_pairs(sigs: np.ndarray, sizes: np.ndarray, pairs: np.ndarray, config: DedupConfig,
                   sets: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The candidate ``pairs`` (m, 2) that verify as copies, and their similarities.

    On the signatures, or on the shingle ``sets`` when given (``exact=True``).
    """
    keep, sims = [], []
    for start in range(0, len(pairs), VERIFY_CHUNK):
        chunk = pairs[start:start + VERIFY_CHUNK]
        left, right = chunk[:, 0], chunk[:, 1]
        if sets is None:
            ok, sim = verify(sigs[left], sizes[left], sigs[right], sizes[right], config)
        else:
            ok, sim = verify_exact([sets[i] for i in left], [sets[j] for j in right], config)
        keep.append(chunk[ok])
        sims.append(sim[ok])
    if not keep:
        return np.zeros((0, 2), np.int64), np.zeros(0)
    return np.concatenate(keep), np.concatenate(sims)


def cluster(docs: Iterable[Document], config: DedupConfig | None = None) -> list[ClusterAssignment]:
    """Cluster ``docs`` (in the given order) into stories; one assignment per doc, same order.

    ``cluster`` of an assignment is the id of the cluster's representative (its first doc).
    """
    config = config or DedupConfig()
    docs = list(docs)
    ids = [doc.id for doc in docs]
    sigs, sizes, sets = bulk_signatures([doc.text for doc in docs], config)
    pairs = candidate_pairs(band_keys(sigs, config), sizes >= min_shingles(config), config.max_bucket)
    good, sims = verified_pairs(sigs, sizes, pairs, config, sets)
    if len(set(ids)) != len(ids):
        raise ValueError("document ids must be unique")
    clusters, scores = assign_positions(len(ids), good[:, 0], good[:, 1], sims, config)
    return [ClusterAssignment(doc_id, ids[c], s)
            for doc_id, c, s in zip(ids, clusters.tolist(), scores.tolist(), strict=True)]
