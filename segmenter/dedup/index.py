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
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from .config import DedupConfig
from .document import Document, format_time, now_iso, parse_time
from .lsh import band_keys
from .match import StoryMatch, choose_story, min_shingles, verify, verify_exact
from .minhash import sketch
from .sqlite import SQLiteStore
from .store import NewDoc, Storage, Story

ADD_BATCH = 256  # documents per transaction in add_many: long enough to amortise, short for others


@dataclass(frozen=True)
class AddResult:
    """The story a document joined or founded; ``similarity`` to the story's representative (or
    the mean over the members it matched; 1.0 for a founder)."""

    story_id: str
    similarity: float
    is_new: bool
    story: Story


class StoryIndex:
    """Near-duplicate stories over a ``Storage`` (``SQLiteStore`` by default)."""

    def __init__(self, storage: Storage, config: DedupConfig | None = None) -> None:
        self.storage = storage
        self.config = config or storage.config
        if self.config != storage.config:
            raise ValueError("StoryIndex config differs from its storage's config")

    @classmethod
    def open(cls, path: str | Path, config: DedupConfig | None = None) -> StoryIndex:
        """An index on the SQLite file ``path`` (created if missing)."""
        return cls(SQLiteStore(path, config))

    def add(self, doc: Document) -> AddResult:
        """Add one document; see the module docstring."""
        return self.add_many([doc])[0]

    def add_many(self, docs: Iterable[Document]) -> list[AddResult]:
        """Add documents in order, signatures computed in bulk, one transaction per batch."""
        docs = list(docs)
        results: list[AddResult] = []
        for start in range(0, len(docs), ADD_BATCH):
            batch = docs[start:start + ADD_BATCH]
            sigs, sizes, sets = sketch([d.text for d in batch], self.config)
            keys = band_keys(sigs, self.config)
            with self.storage.transaction():
                placed = [self._place(doc, sigs[i], int(sizes[i]), keys[i], sets[i] if sets else None)
                          for i, doc in enumerate(batch)]
            stories = {sid: self.storage.story(sid) for sid in {p[0] for p in placed}}
            results.extend(AddResult(sid, sim, new, stories[sid]) for sid, sim, new in placed)
        return results

    def _place(self, doc: Document, signature: np.ndarray, size: int, keys: np.ndarray,
               shingle_set: np.ndarray | None) -> tuple:
        seen = format_time(parse_time(doc.seen)) if doc.seen else now_iso()
        known = self.storage.find(doc_id=doc.id, url=doc.url)
        if known is not None:
            self.storage.touch(known.seq, seen)
            return known.story, known.similarity, False
        mergeable = size >= min_shingles(self.config)
        chosen = self._best_story(signature, size, keys, shingle_set) if mergeable else None
        story_id, similarity = (None, 1.0) if chosen is None else chosen
        new = NewDoc(doc.id, doc.url, doc.source, doc.title, seen, signature, size,
                     keys if mergeable else keys[:0], similarity, shingle_set)
        return self.storage.insert(new, story_id), round(float(similarity), 4), story_id is None

    def _best_story(self, signature: np.ndarray, size: int, keys: np.ndarray,
                    shingle_set: np.ndarray | None = None) -> tuple[str, float] | None:
        seqs = self.storage.candidates(keys)
        if not seqs:
            return None
        sigs, sizes, stories, is_rep = self.storage.signatures(seqs)
        if self.config.exact:
            ok, sims = verify_exact([shingle_set] * len(seqs), self.storage.shingle_sets(seqs), self.config)
        else:
            ok, sims = verify(signature[None, :], size, sigs, sizes, self.config)
        matches = [StoryMatch(stories[i], seqs[i], float(sims[i]), is_rep[i]) for i in np.flatnonzero(ok)]
        if not matches:
            return None
        sizes_by_story = self.storage.story_sizes({m.story for m in matches})
        return choose_story(matches, sizes_by_story, {s: int(s) for s in sizes_by_story}, self.config)

    def match(self, text: str) -> tuple[str, float] | None:
        """Read-only lookup: (story id, similarity) the text would join, or None. Nothing is written."""
        sigs, sizes, sets = sketch([text], self.config)
        if sizes[0] < min_shingles(self.config):
            return None
        return self._best_story(sigs[0], int(sizes[0]), band_keys(sigs, self.config)[0], sets and sets[0])

    def get(self, story_id: str) -> Story | None:
        """A story by id, or None."""
        return self.storage.story(str(story_id))

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
            known = self.storage.find(doc_id=doc_id_or_url) or self.storage.find(url=doc_id_or_url)
            return bool(known and self.storage.delete([known.seq]))

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
