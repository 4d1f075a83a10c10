"""LSH banding: band keys of signatures, and candidate pairs of a whole collection.

``band_keys(signatures, config)`` folds each band of ``rows`` hash values (and the band's index)
into one signed 64-bit integer, so a band is one indexed INTEGER column in SQL stores and one
``groupBy`` key in Spark. Two texts are candidates when they share a key. A key collision between
different bands or band contents (probability ~2**-64 per pair) only adds a candidate, and every
candidate is verified (``match.verify``) before it counts.
"""
from __future__ import annotations

import numpy as np

from .arrays import unique_sorted
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


def bucket_pairs(size: int, max_bucket: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (earlier, later) to verify in one bucket of ``size`` texts in arrival order.

    Every pair among the first ``max_bucket`` texts, and each later text with each of those: a
    text is compared with at most the ``max_bucket`` earliest texts of a bucket. The streaming
    index applies the same cap (``planner``), and so must any other implementation (Spark).
    """
    head = min(size, max_bucket)
    left, right = np.triu_indices(head, k=1)
    if size > head:
        left = np.concatenate((left, np.repeat(np.arange(head), size - head)))
        right = np.concatenate((right, np.tile(np.arange(head, size), head)))
    return left, right


def candidate_pairs(keys: np.ndarray, eligible: np.ndarray | None = None,
                    max_bucket: int | None = None) -> np.ndarray:
    """(i, j), i < j, of rows that share a band key; (m, 2) int64, sorted, unique.

    Rows are texts in arrival order. ``eligible`` (bool per row) leaves rows out, e.g. texts too
    short to merge. ``max_bucket`` caps the comparisons per bucket (see ``bucket_pairs``; None:
    no cap). Pairs are deduplicated band by band, so memory follows the distinct pairs.
    """
    count, bands = keys.shape
    rows_idx = np.arange(count) if eligible is None else np.flatnonzero(eligible)
    found = np.zeros(0, dtype=np.int64)
    for band in range(bands):
        column = keys[rows_idx, band]
        order = np.argsort(column, kind="stable")   # stable: arrival order inside a bucket
        sorted_keys, members = column[order], rows_idx[order]
        bounds = np.flatnonzero(np.diff(sorted_keys)) + 1
        starts = np.concatenate(([0], bounds))
        ends = np.concatenate((bounds, [len(sorted_keys)]))
        shared = ends - starts > 1
        codes = [found]
        for start, end in zip(starts[shared], ends[shared], strict=True):
            bucket = members[start:end]
            left, right = bucket_pairs(len(bucket), max_bucket or len(bucket))
            codes.append(bucket[left] * count + bucket[right])
        found = unique_sorted(np.concatenate(codes))
    return np.stack((found // count, found % count), axis=1)
