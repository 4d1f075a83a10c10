"""LSH banding: band keys of signatures, and candidate pairs of a whole collection.

``band_keys(signatures, config)`` folds each band of ``rows`` hash values (and the band's index)
into one signed 64-bit integer, so a band is one indexed INTEGER column in SQL stores and one
``groupBy`` key in Spark. Two texts are candidates when they share a key. A key collision between
different bands or band contents (probability ~2**-64 per pair) only adds a candidate, and every
candidate is verified (``match.verify``) before it counts.
"""
from __future__ import annotations

import numpy as np

from .config import DedupConfig
from .shingles import fmix64

_ROW_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def band_keys(signatures: np.ndarray, config: DedupConfig) -> np.ndarray:
    """(n, bands) int64 keys of (n, num_perm) signatures; a 1-D signature gives (bands,)."""
    sigs = np.atleast_2d(signatures)
    bands, rows = config.lsh_params
    banded = sigs[:, :bands * rows].reshape(len(sigs), bands, rows).astype(np.uint64)
    acc = np.broadcast_to(np.arange(1, bands + 1, dtype=np.uint64), banded.shape[:2]).copy()
    with np.errstate(over="ignore"):
        for row in range(rows):
            acc = (acc ^ banded[:, :, row]) * _ROW_MULTIPLIER
    keys = fmix64(acc).view(np.int64)
    return keys[0] if signatures.ndim == 1 else keys


def candidate_pairs(keys: np.ndarray, eligible: np.ndarray | None = None) -> np.ndarray:
    """All (i, j), i < j, of rows that share at least one band key; (m, 2) int64, sorted, unique.

    ``eligible`` (bool per row) leaves rows out, e.g. texts too short to merge. Every pair inside
    a bucket is produced, as the streaming index sees every earlier text of a bucket.
    """
    count, bands = keys.shape
    rows_idx = np.arange(count) if eligible is None else np.flatnonzero(eligible)
    found = []
    for band in range(bands):
        column = keys[rows_idx, band]
        order = np.argsort(column, kind="stable")
        sorted_keys, members = column[order], rows_idx[order]
        bounds = np.flatnonzero(np.diff(sorted_keys)) + 1
        starts = np.concatenate(([0], bounds))
        ends = np.concatenate((bounds, [len(sorted_keys)]))
        shared = ends - starts > 1
        for start, end in zip(starts[shared], ends[shared], strict=True):
            bucket = np.sort(members[start:end])
            left, right = np.triu_indices(len(bucket), k=1)
            found.append(bucket[left] * count + bucket[right])
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    flat = np.unique(np.concatenate(found))
    return np.stack((flat // count, flat % count), axis=1)
