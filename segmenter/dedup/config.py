"""DedupConfig: the one typed configuration every signature, band key and store is made with.

Defaults were picked by measuring on ``../shared/corpora/dedup`` with ``benchmarks/dedup.py``
(reprints-synth: wire stories with new headlines, datelines, truncations, dropped sentences and
words, footers and OCR noise; Reuters exact word-5-gram Jaccard pairs):

* ``ngram=3``: word 3-grams. Reprints carry OCR noise (up to 2% of characters): one bad character
  kills every n-gram over its word, so at 2% noise about half of the 5-grams of a copy are gone and
  a third of the 3-grams. Reprints ARI (t=0.3, rest default): n=5 0.922, n=4 0.937, n=3 0.952;
  n=2 0.958 but 7x the candidates (common bigrams) and slower.
* ``num_perm=128``: the Jaccard estimate's standard error at J=0.3 is 0.04, small next to the
  spread of reprint similarities; more permutations cost signatures, band rows and storage.
* ``threshold=0.25``: Jaccard at which two texts are copies. Copies that both lost sentences and
  have OCR noise sit at J 0.2-0.4; unrelated stories stay below 0.1 with 3-grams. Reprints ARI:
  t=0.35 0.947, t=0.3 0.952, t=0.25 0.957, t=0.2 better still on the data but closer to the
  same-topic noise floor. Checked on two halves of the reprint stories (even/odd cluster ids):
  t=0.25 beats t=0.3 on both (0.978 vs 0.971, 0.972 vs 0.967), so it is not a fit to one half.
  Most remaining "errors" are Reuters stories that the truth keeps apart although they are
  revisions of one another (same wire story, later edition): exact 3-gram Jaccard 0.6-1.0.
* ``containment=0.7``, ``min_size_ratio=0.3``: a trimmed copy has a low Jaccard with its full
  original (3 sentences of 15: J ~ 0.2) but nearly all its shingles are inside it; so two texts are
  also copies when the smaller one's containment in the bigger is >= 0.7, provided it is at least
  0.3 of the bigger's size (below that a two-line notice could join any long article quoting it).
* ``min_tokens=10``: texts with fewer tokens are never merged (no giant story of empties,
  bylines and "Reuters" one-liners); they still get a story of their own.
* ``exact=False``: candidates are verified on the signatures (estimates), so a verified pair is a
  function of two signatures alone (what the Spark job ships). ``exact=True`` verifies on the
  shingle sets (kept in memory by ``cluster()``, stored by the index): use it when pairs must be
  decided at a sharp Jaccard line, e.g. the Reuters "J >= 0.8" task, where the estimate's noise
  (+-0.035 at J=0.8) costs recall and precision near the line.
* ``max_bucket=100``: a text is compared with at most the 100 earliest texts that share one of
  its band keys. A key shared by thousands of texts is boilerplate (cookie notices, "page not
  found", a ticker repeated all day); all-pairs inside such a bucket is quadratic in time and
  memory (10,000 copies: 50 million pairs), while the earliest 100 hold the story's
  representative and enough members to place the text. No bucket of the three benchmark
  corpora reaches it except impresso's formulaic notices (124; its ARI is the same uncapped).
* ``member_quorum=0.5``: without a match to a story's representative, a text joins the story
  only if it matches at least half of its members (and two): the no-chaining rule. Reprints ARI:
  0.957 at 0.34 and at 0.5, 0.955 at 1.0 (copies nearly always match the representative).
* bands x rows: derived from the lowest Jaccard a verified match can have (the containment rule at
  ``min_size_ratio``), so LSH finds trimmed copies as candidates; every candidate is verified.
  ``lsh_fn_weight=0.5`` weighs misses against false candidates in that choice, as datasketch's
  ``MinHashLSH`` does: 31 x 2 for the defaults. Measured: 48 x 2 (weight 0.7) finds a few more
  trimmed copies (reprints ARI 0.957 against 0.956, impresso 0.411 against 0.407) but writes 55%
  more band rows, and ingest into the store is ~30% slower; 42 x 3 loses 2 points of recall.
  With a sharp Jaccard line and exact verification, raise it (0.95 gives 16 x 8 at t=0.8: a pair
  at J=0.8 is then a candidate with p=0.95).
"""
from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

SCHEMES = ("affine32", "legacy")
HASHES = ("fast", "sha1")


@dataclass(frozen=True)
class DedupConfig:
    """Shingling, MinHash and matching parameters; validated on creation, stored with the data."""

    ngram: int = 3
    num_perm: int = 128
    seed: int = 1
    threshold: float = 0.25
    containment: float = 0.7
    min_size_ratio: float = 0.3
    min_tokens: int = 10
    member_quorum: float = 0.5
    bands: int | None = None
    rows: int | None = None
    scheme: str = "affine32"
    hash: str = "fast"
    exact: bool = False
    lsh_fn_weight: float = 0.5
    max_bucket: int = 100

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
        _check(isinstance(self.exact, bool), "exact must be True or False")
        _check(0.0 < self.lsh_fn_weight < 1.0, "lsh_fn_weight must be in (0, 1)")
        _check(isinstance(self.max_bucket, int) and self.max_bucket >= 2, "max_bucket must be an int >= 2")
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
        return optimal_bands(self.candidate_threshold, self.num_perm, self.lsh_fn_weight)

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


def _collision(jaccard: np.ndarray | float, bands: int, rows: int) -> np.ndarray | float:
    """Probability that two texts of this Jaccard share at least one band key."""
    return 1.0 - (1.0 - jaccard**rows) ** bands


@functools.lru_cache(maxsize=64)
def optimal_bands(threshold: float, num_perm: int, fn_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) minimising weighted false-positive + false-negative area around ``threshold``.

    The same criterion as datasketch's ``MinHashLSH``: the integrals of the S-curve below (false
    candidates) and above (misses) the threshold, weighted ``1 - fn_weight`` and ``fn_weight``.
    """
    steps = 200
    low = threshold * (np.arange(steps) + 0.5) / steps
    high = threshold + (1 - threshold) * (np.arange(steps) + 0.5) / steps
    best, best_cost = (1, 1), math.inf
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            fp = float(_collision(low, bands, rows).sum()) * threshold / steps
            fn = float((1 - _collision(high, bands, rows)).sum()) * (1 - threshold) / steps
            cost = (1 - fn_weight) * fp + fn_weight * fn
            if cost < best_cost:
                best, best_cost = (bands, rows), cost
    return best
