"""DedupConfig: the one typed configuration every signature, band key and store is made with.

Defaults were picked by measuring on ``../shared/corpora/dedup`` with ``benchmarks/dedup.py``
(reprints-synth: wire stories with new headlines, datelines, truncations, dropped sentences and
words, footers and OCR noise; Reuters exact word-5-gram Jaccard pairs):

* ``ngram=5``: word 5-grams. Shorter grams (3) raise the Jaccard of unrelated finance stories that
  share stock phrases ("said in a statement"); longer ones (7+) let each OCR error or dropped word
  destroy more shingles. 5 is also the n of the Reuters truth, so estimates are unbiased there.
* ``num_perm=128``: the Jaccard estimate's standard error at J=0.5 is 0.044; 256 halves neither the
  reprints errors nor the misses (those come from truncation, handled by containment) and doubles
  the cost of signatures and storage.
* ``threshold=0.5``: estimated Jaccard at which two texts are copies (reprints with a new headline,
  dateline and footer stay above 0.6; unrelated stories on the same topic stay below 0.2).
* ``containment=0.7``: a trimmed copy has a low Jaccard with its full original (a 3-sentence cut
  of a 15-sentence story: J ~ 0.2) but nearly all its shingles are inside the original; so two
  texts are also copies when the smaller one's estimated containment in the other is at least
  this, provided the smaller one is at least ``min_size_ratio`` of the bigger one (below that a
  two-line notice could join any long article quoting it).
* ``min_tokens=10``: texts with fewer tokens are never merged (no giant story of empties,
  bylines and "Reuters" one-liners); they still get a story of their own.
* bands x rows: derived from the lowest Jaccard a verified match can have (the containment rule at
  ``min_size_ratio``), so LSH finds trimmed copies as candidates; every candidate is verified.
"""
from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

SCHEMES = ("affine32", "legacy")
HASHES = ("fast", "sha1")


@dataclass(frozen=True)
class DedupConfig:
    """Shingling, MinHash and matching parameters; validated on creation, stored with the data."""

    ngram: int = 3
    num_perm: int = 128
    seed: int = 1
    threshold: float = 0.3
    containment: float = 0.7
    min_size_ratio: float = 0.3
    min_tokens: int = 10
    member_quorum: float = 0.5
    bands: int | None = None
    rows: int | None = None
    scheme: str = "affine32"
    hash: str = "fast"

    def __post_init__(self) -> None:
        _check(isinstance(self.ngram, int) and 1 <= self.ngram <= 32, "ngram must be an int in 1..32")
        _check(isinstance(self.num_perm, int) and 8 <= self.num_perm <= 1024,
               "num_perm must be an int in 8..1024")
        _check(isinstance(self.seed, int) and 0 <= self.seed < 2**32, "seed must be an int in 0..2**32-1")
        _check(0.0 < self.threshold <= 1.0, "threshold must be in (0, 1]")
        _check(0.0 < self.containment <= 1.0, "containment must be in (0, 1]; use 1.0 for exact containment")
        _check(0.0 < self.min_size_ratio <= 1.0, "min_size_ratio must be in (0, 1]")
        _check(isinstance(self.min_tokens, int) and self.min_tokens >= 0, "min_tokens must be an int >= 0")
        _check(0.0 < self.member_quorum <= 1.0, "member_quorum must be in (0, 1]")
        _check(self.scheme in SCHEMES, f"scheme must be one of {SCHEMES}")
        _check(self.hash in HASHES, f"hash must be one of {HASHES}")
        _check((self.bands is None) == (self.rows is None), "give both bands and rows, or neither")
        if self.bands is not None:
            _check(isinstance(self.bands, int) and isinstance(self.rows, int) and self.bands >= 1
                   and self.rows >= 1 and self.bands * self.rows <= self.num_perm,
                   "bands and rows must be positive ints with bands * rows <= num_perm")

    @property
    def candidate_threshold(self) -> float:
        """The lowest Jaccard a verified match can have: LSH is tuned to find pairs from here."""
        ratio, cont = self.min_size_ratio, self.containment
        by_containment = cont * ratio / (1 + ratio - cont * ratio)
        return min(self.threshold, by_containment)

    @property
    def lsh_params(self) -> tuple[int, int]:
        """(bands, rows): given, or the best for ``candidate_threshold`` (see ``optimal_bands``)."""
        if self.bands is not None and self.rows is not None:
            return self.bands, self.rows
        return optimal_bands(self.candidate_threshold, self.num_perm)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict; ``from_dict`` reverses it."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DedupConfig:
        """Build from ``to_dict`` output; unknown keys are an error (a newer store)."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        _check(not unknown, f"unknown DedupConfig keys: {sorted(unknown)}")
        return cls(**data)

    def same_signatures(self, other: DedupConfig) -> bool:
        """True when both make identical signatures and band keys (a store can mix them)."""
        keys = ("ngram", "num_perm", "seed", "scheme", "hash")
        return all(getattr(self, k) == getattr(other, k) for k in keys) and \
            self.lsh_params == other.lsh_params


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _collision(jaccard: float, bands: int, rows: int) -> float:
    return 1.0 - (1.0 - jaccard**rows) ** bands


@functools.lru_cache(maxsize=64)
def optimal_bands(threshold: float, num_perm: int, fn_weight: float = 0.7) -> tuple[int, int]:
    """(bands, rows) minimising weighted false-positive + false-negative area around ``threshold``.

    The same criterion as datasketch's ``MinHashLSH`` (integrals of the S-curve below and above
    the threshold), with a heavier weight on misses because every candidate is verified anyway:
    a false candidate costs one signature comparison, a missed one a split story.
    """
    steps = 200
    best, best_cost = (1, 1), math.inf
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            low = [threshold * (i + 0.5) / steps for i in range(steps)]
            high = [threshold + (1 - threshold) * (i + 0.5) / steps for i in range(steps)]
            fp = sum(_collision(j, bands, rows) for j in low) * threshold / steps
            fn = sum(1 - _collision(j, bands, rows) for j in high) * (1 - threshold) / steps
            cost = (1 - fn_weight) * fp + fn_weight * fn
            if cost < best_cost:
                best, best_cost = (bands, rows), cost
    return best
