"""Stories of a batch: the dedup pieces the local pipeline and the Spark job share, and the local,
on-disk implementation of the banding shuffle.

The one rule for identical results everywhere: both jobs compute the same signature of each
article body (``Signer``, per record, in the segment stage), find candidates as texts that share an
LSH band key (``segmenter.dedup.lsh.band_keys``), verify every candidate with
``segmenter.dedup.match.verify``, and give the *set* of verified pairs with the documents in input
order to ``segmenter.dedup.match.assign_clusters`` (the no-chaining union-find that ``cluster()``
and the streaming ``StoryIndex`` also follow). The set of verified pairs does not depend on how
candidates were grouped, and ``assign_clusters`` depends only on that set and the order, so the
Spark job (shuffle on band keys) and the local job (SQLite ``GROUP BY`` on band keys) agree.

Only documents that take part in a verified pair are passed to ``assign_clusters``: a document with
no verified pair founds its own story whatever else is in the batch, and a story grows only
through pairs, so leaving the singletons out changes no assignment and keeps memory proportional
to the duplicates, not to the input.

Story ids: the id of the story's first document in input order (its representative).
"""
from __future__ import annotations

import base64
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from segmenter.dedup.config import DedupConfig
from segmenter.dedup.lsh import band_keys, bucket_pairs
from segmenter.dedup.match import assign_clusters, min_shingles, verify
from segmenter.dedup.minhash import signatures_and_sizes

STORE_FILE = "stories.sqlite"
# Rows decoded and banded at once: numpy wants batches, memory wants them bounded.
BAND_BATCH = 1000


def config_dict(config: DedupConfig | None = None) -> dict:
    """The dedup configuration a run stores with its output (the default unless given)."""
    return (config or DedupConfig()).to_dict()


@dataclass(frozen=True)
class Signer:
    """text -> (signature bytes, shingle count): picklable, so worker processes and Spark get it."""

    config: DedupConfig = field(default_factory=DedupConfig)

    def __call__(self, text: str) -> tuple[bytes, int]:
        return self.sign_many([text])[0]

    def sign_many(self, texts: list[str]) -> list[tuple[bytes, int]]:
        """``self(text)`` for each text, computed in one batch (the same values, less overhead)."""
        sigs, sizes = signatures_and_sizes(texts, self.config)
        return [(sig.tobytes(), int(size)) for sig, size in zip(sigs, sizes.tolist(), strict=True)]


def signer(config: DedupConfig | None = None) -> Signer:
    """The signature function of the segment stage."""
    return Signer(config or DedupConfig())


def encode_signature(signature: bytes) -> str:
    """Signature bytes -> ASCII for a JSON row."""
    return base64.b64encode(signature).decode("ascii")


def decode_signature(text: str) -> np.ndarray:
    """ASCII from a JSON row -> uint32 signature."""
    return np.frombuffer(base64.b64decode(text), dtype=np.uint32)


def bucket_verified_pairs(members: list[tuple[int, np.ndarray, int]], config: DedupConfig
                          ) -> Iterator[tuple[int, int, float]]:
    """The verified pairs (a, b, similarity), a < b, among the members (order, signature, size)
    of one band bucket: the same function on each side of the local and the Spark shuffle.

    Which pairs are compared follows ``dedup.lsh.bucket_pairs``: all pairs among the earliest
    ``max_bucket`` members, and every later member with each of those, as ``cluster()`` and the
    streaming index do, so a huge bucket of boilerplate costs linear, not quadratic, work.
    """
    members = sorted(members, key=lambda m: m[0])  # arrival order: the bucket cap keeps the earliest
    if len(members) < 2:
        return
    left, right = bucket_pairs(len(members), config.max_bucket)
    sigs = np.stack([m[1] for m in members])
    sizes = np.array([m[2] for m in members])
    ok, sims = verify(sigs[left], sizes[left], sigs[right], sizes[right], config)
    found = zip(left[ok].tolist(), right[ok].tolist(), sims[ok].tolist(), strict=True)
    for a, b, sim in found:  # orders may be ints (local) or (input, ordinal) tuples (Spark)
        yield members[a][0], members[b][0], float(sim)


def assign(pairs: Iterable[tuple[int, int, float]], config: DedupConfig) -> dict[int, int]:
    """{document order: representative order} for the documents in verified ``pairs``.

    Orders are positions in the input; documents not in the result are their own story.
    """
    pairs = sorted(set(pairs))
    involved = sorted({a for a, _, _ in pairs} | {b for _, b, _ in pairs})
    return {a.id: a.cluster for a in assign_clusters(involved, pairs, config)}


def eligible(size: int, config: DedupConfig) -> bool:
    """Texts too short to merge take no part in banding (``match.verify`` would reject them)."""
    return size >= min_shingles(config)


# ---------------------------------------------------------------------------------------------
# the local implementation: band buckets in SQLite


def cluster_file(records_path: str, out_dir: str, config: DedupConfig | None = None) -> int:
    """Cluster the signed rows of ``records_path`` into stories kept in ``OUT/stories.sqlite``.

    Returns the number of stories. Rebuilt from scratch on every call (idempotent after a kill).
    """
    config = config or DedupConfig()
    path = os.path.join(out_dir, STORE_FILE)
    for stale in (path, path + "-journal", path + "-wal"):
        if os.path.exists(stale):
            os.remove(stale)
    db = sqlite3.connect(path)
    db.executescript("""
        PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
        CREATE TABLE docs (ord INTEGER PRIMARY KEY, id TEXT, sig BLOB, size INTEGER);
        CREATE TABLE bands (key INTEGER, ord INTEGER);
        CREATE TABLE story (ord INTEGER PRIMARY KEY, rep INTEGER);
    """)
    signed = _load_signed_rows(db, records_path, config)
    db.execute("CREATE INDEX bands_key ON bands (key)")
    pairs = set()
    # DISTINCT: copies of one text share all their band keys, so their bucket comes back once per
    # band with the same members (in insertion order); verifying it once gives the same pairs.
    # SQLite dedupes in a temporary b-tree on disk, so memory stays flat.
    for (ords,) in db.execute("SELECT DISTINCT group_concat(ord) FROM bands GROUP BY key HAVING count(*) > 1"):
        pairs.update(bucket_verified_pairs(_members(db, ords), config))
    mapping = assign(pairs, config)
    db.executemany("INSERT INTO story VALUES (?, ?)", mapping.items())
    db.commit()
    db.close()
    return signed - sum(1 for doc, rep in mapping.items() if doc != rep)


def _load_signed_rows(db: sqlite3.Connection, records_path: str, config: DedupConfig) -> int:
    """Put every signed row's signature and band keys in the store; return how many there were."""
    signed = 0
    batch: list[tuple[int, str, str, int]] = []
    with open(records_path, encoding="utf-8") as rows:
        for order, line in enumerate(rows):
            row = json.loads(line)
            if row.get("signature"):
                batch.append((order, row["id"], row["signature"], row["shingles"]))
            if len(batch) >= BAND_BATCH:
                signed += _insert_batch(db, batch, config)
                batch = []
    return signed + _insert_batch(db, batch, config)


def _insert_batch(db: sqlite3.Connection, batch: list[tuple[int, str, str, int]], config: DedupConfig) -> int:
    if not batch:
        return 0
    sigs = np.stack([decode_signature(sig) for _, _, sig, _ in batch])
    db.executemany("INSERT INTO docs VALUES (?, ?, ?, ?)",
                   ((order, doc_id, sig.tobytes(), size)
                    for (order, doc_id, _, size), sig in zip(batch, sigs, strict=True)))
    keys = band_keys(sigs, config)
    rows = zip(batch, keys.tolist(), strict=True)
    db.executemany("INSERT INTO bands VALUES (?, ?)",
                   ((int(key), order) for (order, _, _, size), row_keys in rows
                    if eligible(size, config) for key in row_keys))
    return len(batch)


def _members(db: sqlite3.Connection, ords: str) -> list[tuple[int, np.ndarray, int]]:
    found = db.execute(f"SELECT ord, sig, size FROM docs WHERE ord IN ({ords})")  # ints from our own table
    return [(order, np.frombuffer(sig, dtype=np.uint32), size) for order, sig, size in found]


class StoryLookup:
    """Story id of each row after ``cluster_file``: the representative's id, own id, or None."""

    def __init__(self, out_dir: str):
        self.db = sqlite3.connect(os.path.join(out_dir, STORE_FILE))

    def story_of(self, order: int, row: dict) -> str | None:
        """The story id of the ``order``-th row of ``records.jsonl``."""
        if not row.get("signature"):
            return None
        found = self.db.execute("SELECT d.id FROM story s JOIN docs d ON d.ord = s.rep WHERE s.ord = ?",
                                (order,)).fetchone()
        return found[0] if found else row["id"]

    def close(self) -> None:
        self.db.close()
