"""StoryIndex: add documents one at a time (or in batches) and get back their story.

``add(doc)``, inside one exclusive storage transaction:

1. idempotency: a url (or id) already stored returns its story again (``last_seen`` extended);
2. signature and band keys (``minhash``, ``lsh``); LSH candidates from the store;
3. every candidate verified (``match.verify``: Jaccard, or containment for trimmed copies);
4. the no-chaining rule (``match.choose_story``) picks the story to join, or none;
5. the document, its signature, band keys and membership are written.

Because a whole add is one transaction, concurrent writers (several processes on one SQLite file)
see each other's documents in commit order and never both found the same story, and a crash
leaves the add done or not done. Adding documents in order gives the same stories as
``cluster()`` on the same documents in the same order (same rule, same candidates).

``add`` is ``prepare`` (signatures and band keys: CPU only, no storage access), ``place`` (steps
1 and 3-5, the one transaction) and a read of the stories. A caller that serialises writers with
its own lock (the HTTP API) calls the three itself and holds the lock around ``place`` only.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from .config import DedupConfig
from .document import Document, format_time, now_iso, parse_time
from .lsh import band_keys
from .match import min_shingles
from .minhash import sketch
from .planner import BatchPlan
from .sqlite import SQLiteStore
from .store import Storage, Story

ADD_BATCH = 512  # documents per transaction in add_many: 128 -> 3,500 docs/s, 512 -> 3,800, 1,024 -> 4,000,
# but a batch holds the write lock (~0.15 s at 512) while web workers wait to add theirs


@dataclass(frozen=True)
class AddResult:
    """The story a document joined or founded; ``similarity`` to the story's representative (or
    the mean over the members it matched; 1.0 for a founder)."""

    story_id: str
    similarity: float
    is_new: bool
    story: Story


@dataclass(frozen=True)
class Placement:
    """Where ``place`` put a document: the ``AddResult`` without the story's members."""

    story_id: str
    similarity: float
    is_new: bool


@dataclass(frozen=True)
class Sketches:
    """A batch of documents with what placing them needs that the store does not: signatures,
    sizes, shingle sets (``exact`` only), band keys and arrival times (``StoryIndex.prepare``)."""

    docs: tuple[Document, ...]
    signatures: np.ndarray
    sizes: np.ndarray
    shingle_sets: list[np.ndarray] | None
    keys: np.ndarray
    seen: tuple[str, ...]


class StoryIndex:
    """Near-duplicate stories over a ``Storage`` (``SQLiteStore`` by default)."""

    def __init__(self, storage: Storage, config: DedupConfig | None = None) -> None:
        self.storage = storage
        self.config = config or storage.config
        if self.config != storage.config:
            raise ValueError("StoryIndex config differs from its storage's config")

    @classmethod
    def open(cls, path: str | Path, config: DedupConfig | None = None, autocheckpoint: bool = True) -> StoryIndex:
        """An index on the SQLite file ``path`` (created if missing); see ``SQLiteStore`` for
        ``autocheckpoint``."""
        return cls(SQLiteStore(path, config, autocheckpoint=autocheckpoint))

    def add(self, doc: Document) -> AddResult:
        """Add one document; see the module docstring."""
        return self.add_many([doc])[0]

    def add_many(self, docs: Iterable[Document]) -> list[AddResult]:
        """Add documents in order: signatures in bulk, one transaction and one write per batch."""
        docs = list(docs)
        results: list[AddResult] = []
        for start in range(0, len(docs), ADD_BATCH):
            results.extend(self._add_batch(docs[start:start + ADD_BATCH]))
        return results

    def _add_batch(self, batch: list[Document]) -> list[AddResult]:
        placed = self.place(self.prepare(batch))
        stories = self.storage.load_stories({p.story_id for p in placed})
        return [AddResult(p.story_id, p.similarity, p.is_new, stories[p.story_id]) for p in placed]

    def prepare(self, docs: Sequence[Document]) -> Sketches:
        """Signatures and band keys of ``docs`` (pure CPU work: no storage access, no lock needed)."""
        sigs, sizes, sets = sketch([d.text for d in docs], self.config)
        now = now_iso()  # documents without a time are seen when their batch is prepared
        seen = tuple(format_time(parse_time(d.seen)) if d.seen else now for d in docs)
        return Sketches(tuple(docs), sigs, sizes, sets, band_keys(sigs, self.config), seen)

    def place(self, sketches: Sketches) -> list[Placement]:
        """Place the sketched documents in order, in one storage transaction (see the module
        docstring); the stories are not read back (``get`` does that)."""
        docs = list(sketches.docs)
        with self.storage.transaction():
            plan = BatchPlan(self.storage, self.config, sketches.signatures, sketches.sizes,
                             sketches.shingle_sets, sketches.keys, docs)
            placed = [plan.place(i, doc, sketches.seen[i]) for i, doc in enumerate(docs)]
            plan.write()
        return [Placement(story, similarity, new) for story, similarity, new in placed]

    def match(self, text: str) -> tuple[str, float] | None:
        """Read-only lookup: (story id, similarity) the text would join, or None. Nothing is written."""
        sigs, sizes, sets = sketch([text], self.config)
        if sizes[0] < min_shingles(self.config):
            return None
        plan = BatchPlan(self.storage, self.config, sigs, sizes, sets, band_keys(sigs, self.config), [])
        return plan.best_story(0)

    def get(self, story_id: str) -> Story | None:
        """A story by id, or None."""
        return self.storage.load_stories([str(story_id)]).get(str(story_id))

    def stories(self, since: str | None = None, limit: int = 50,
                cursor: str | None = None) -> tuple[list[Story], str | None]:
        """Stories seen most recently first; ``since`` (ISO-8601) keeps those seen since then.
        Returns (page, cursor of the next page or None)."""
        if not 1 <= limit <= 1000:
            raise ValueError("limit must be in 1..1000")
        after = _parse_cursor(cursor) if cursor else None
        since_text = format_time(parse_time(since)) if since else None
        page = self.storage.stories(since_text, limit + 1, after)
        more = len(page) > limit
        page = page[:limit]
        return page, (f"{page[-1].last_seen}|{page[-1].id}" if more else None)

    def remove(self, doc_id_or_url: str) -> bool:
        """Remove a document by id or url; True if it was there. A story whose representative
        goes gets the earliest remaining member as representative; an empty story vanishes."""
        with self.storage.transaction():
            known = self.storage.find([doc_id_or_url]) or self.storage.find(urls=[doc_id_or_url])
            return bool(known and self.storage.delete([known[0].seq]))

    def expire(self, older_than: str | datetime) -> int:
        """Remove every document not seen since ``older_than``; returns how many went."""
        cutoff = format_time(parse_time(older_than))
        with self.storage.transaction():
            return self.storage.delete(self.storage.seen_before(cutoff))

    def count(self) -> tuple[int, int]:
        """(documents, stories) in the index."""
        return self.storage.count()

    def close(self) -> None:
        """Close the storage."""
        self.storage.close()

    def __enter__(self) -> StoryIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _parse_cursor(cursor: str) -> tuple[str, str]:
    last_seen, sep, story_id = cursor.rpartition("|")
    if not sep or not story_id.isdigit():
        raise ValueError(f"bad cursor: {cursor!r}")
    return last_seen, story_id
