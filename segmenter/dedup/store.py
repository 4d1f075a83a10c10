"""The storage interface of the story index, and the records it hands back.

``StoryIndex`` (the algorithm) talks only to a ``Storage``: the embedded default is
``SQLiteStore``; a networked backend (PostgreSQL, Redis) implements the same methods. Contract:

* Everything a ``StoryIndex.add`` reads and writes happens inside one ``transaction()``, which
  must be exclusive among writers (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a table lock or
  ``SERIALIZABLE``; Redis: a lock key), so two processes adding copies of one story at the same
  moment cannot both found it, and a crash leaves either the whole add or none of it.
* Documents get an increasing ``seq`` (arrival order): the story's representative is its member
  with the lowest ``seq``.
* The store keeps the ``DedupConfig`` it was created with and refuses another one.
* Times are ``document.format_time`` strings (UTC, fixed width), so they sort as text.
"""
from __future__ import annotations

import abc
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .config import DedupConfig


class ConfigMismatch(ValueError):
    """The store was made with another DedupConfig; its signatures cannot be mixed with ours."""


@dataclass(frozen=True)
class Member:
    """One document of a story, as shown to users."""

    doc_id: str
    source: str | None
    url: str | None
    title: str | None
    first_seen: str
    last_seen: str
    seq: int = field(default=0, compare=False)
    similarity: float = field(default=1.0, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The member as a JSON object."""
        return {"doc_id": self.doc_id, "source": self.source, "url": self.url, "title": self.title,
                "first_seen": self.first_seen, "last_seen": self.last_seen}


@dataclass(frozen=True)
class Story:
    """A story and its members (arrival order). The canonical member is the representative:
    the earliest-arrived member still present (it is what new documents are matched against)."""

    id: str
    members: tuple[Member, ...]

    @property
    def canonical(self) -> Member:
        """The representative member (lowest arrival sequence)."""
        return min(self.members, key=lambda m: m.seq)

    @property
    def title(self) -> str | None:
        """The canonical member's title, else the first member title there is."""
        titles = [self.canonical.title] + [m.title for m in self.members]
        return next((t for t in titles if t), None)

    @property
    def size(self) -> int:
        """Number of members."""
        return len(self.members)

    @property
    def first_seen(self) -> str:
        """When the earliest member was first seen."""
        return min(m.first_seen for m in self.members)

    @property
    def last_seen(self) -> str:
        """When any member was last seen."""
        return max(m.last_seen for m in self.members)

    def to_dict(self) -> dict[str, Any]:
        """The story as a JSON object (the shape the HTTP API returns)."""
        return {"id": self.id, "title": self.title, "canonical": self.canonical.to_dict(),
                "members": [m.to_dict() for m in self.members], "size": self.size,
                "first_seen": self.first_seen, "last_seen": self.last_seen}


@dataclass(frozen=True)
class StoredDoc:
    """A stored document's identity and place (no text: stores keep signatures, not texts)."""

    seq: int
    doc_id: str
    url: str | None
    story: str
    similarity: float


@dataclass(frozen=True)
class NewDoc:
    """One document as ``Storage.write`` stores it (seq and story decided by the index)."""

    seq: int
    story: str
    doc_id: str
    url: str | None
    source: str | None
    title: str | None
    first_seen: str
    last_seen: str
    signature: np.ndarray
    size: int
    band_keys: np.ndarray  # empty for texts too short to merge: they are never candidates
    similarity: float
    shingle_set: np.ndarray | None = None  # sorted unique shingle hashes, kept when config.exact


@dataclass
class StoryChange:
    """What a batch did to one story: founded it (``new``) or added members to it."""

    id: str
    new: bool
    representative: int | None
    added: int
    first_seen: str
    last_seen: str


class Storage(abc.ABC):
    """Where a ``StoryIndex`` lives. See the module docstring for the contract.

    Reads used while placing documents take many keys at once, and one ``write`` stores a whole
    batch, so a networked backend pays a few round trips per batch, not per document.
    """

    config: DedupConfig

    @abc.abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """An exclusive write transaction: commit on success, roll back on exception."""

    @abc.abstractmethod
    def find(self, doc_ids: Iterable[str] = (), urls: Iterable[str] = ()) -> list[StoredDoc]:
        """The stored documents with any of these ids or urls."""

    @abc.abstractmethod
    def candidates(self, band_keys: np.ndarray) -> dict[int, list[int]]:
        """For each of the band keys that stored documents have: the seqs of those documents."""

    @abc.abstractmethod
    def signatures(self, seqs: list[int]) -> tuple[np.ndarray, np.ndarray, list[str], list[bool]]:
        """(signatures, sizes, story ids, is representative) of the given seqs, same order."""

    @abc.abstractmethod
    def shingle_sets(self, seqs: list[int]) -> list[np.ndarray]:
        """The stored shingle sets of the given seqs, same order (stores made with ``exact``)."""

    @abc.abstractmethod
    def story_sizes(self, story_ids: Iterable[str]) -> dict[str, int]:
        """Member count of each story."""

    @abc.abstractmethod
    def next_ids(self) -> tuple[int, int]:
        """(next document seq, next story id), never used before; call inside ``transaction``."""

    @abc.abstractmethod
    def write(self, docs: list[NewDoc], stories: list[StoryChange], touches: list[tuple[int, str]]) -> None:
        """Store new documents, found or grow stories, and extend ``last_seen`` of known documents
        ((seq, seen) pairs) and of their stories."""

    @abc.abstractmethod
    def delete(self, seqs: list[int]) -> int:
        """Delete documents (and their band keys; stories left empty vanish); returns the count."""

    @abc.abstractmethod
    def seen_before(self, moment: str) -> list[int]:
        """Seqs of documents whose ``last_seen`` is earlier than ``moment``."""

    @abc.abstractmethod
    def load_stories(self, story_ids: Iterable[str]) -> dict[str, Story]:
        """Stories with their members, by id (missing ids are left out)."""

    @abc.abstractmethod
    def stories(self, since: str | None, limit: int, after: tuple[str, str] | None) -> list[Story]:
        """Stories by ``last_seen`` descending (then id descending), with ``last_seen >= since``,
        strictly after the (last_seen, id) position ``after``."""

    @abc.abstractmethod
    def count(self) -> tuple[int, int]:
        """(documents, stories) stored."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""
