"""SQLiteStore: the embedded, server-less ``Storage`` (standard library ``sqlite3``).

Layout: ``docs`` (one row per document: ids, url, source, title, times, signature blob, shingle
count, story), ``bands`` (band key -> doc, a WITHOUT ROWID table whose primary key is the index
the LSH lookup needs), ``stories`` (representative, times) and ``meta`` (the config, as JSON).

Band keys are hashes, so every new row lands on a random page of an index on them: a batch of
12,000 rows would dirty (and the commit would copy to the WAL) nearly every page of a big table,
and ingest would slow down as the store grows (measured: 3,400 docs/s at 8,000 documents, 1,700
at 40,000); even one document's 31 keys dirty 31 pages. New documents' keys therefore go to
``band_log``, one row per document in arrival order (``doc``, its keys as one blob), so an add
appends to its last page; once the log holds ``MERGE_ROWS`` keys they are merged into ``bands``
in one sorted pass. Lookups read ``bands`` and each connection's in-memory copy of the log,
which it brings up to date inside the same transaction: the log only grows (seqs increase) until
a merge or a delete, which bump ``band_log_generation`` in ``meta`` and make every connection
reload it. (Measured on single adds: 40 -> 10 WAL pages a commit.)

Concurrency and crashes: WAL journal (readers never block the writer), ``synchronous=NORMAL``
(a power cut may lose the last commits but never corrupts; WAL is atomic per transaction), a
busy timeout, and every write in a ``BEGIN IMMEDIATE`` transaction so writers queue on the
database lock instead of interleaving. Several processes may open the same file; each process
should open its own ``SQLiteStore`` (a connection is not shared across threads).
"""
from __future__ import annotations

import json
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .arrays import unique_sorted
from .config import DedupConfig
from .lsh import band_keys
from .store import ConfigMismatch, Member, NewDoc, Storage, StoredDoc, Story, StoryChange

SCHEMA_VERSION = "2"  # 2: band_log replaces bands_new (a store of version 1 is converted on open)
BUSY_TIMEOUT_MS = 60_000
CACHE_KIB = 65_536  # page cache per connection: the band index of ~300,000 documents stays in memory
_SQL_VARS = 500  # parameters per IN (...) query, under SQLite's historic limit of 999
MERGE_ROWS = 100_000  # band keys (~3,000 documents) gathered in ``band_log`` before a merge into ``bands``
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024  # bytes of WAL file kept after it restarts

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    representative INTEGER NOT NULL,
    size INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS stories_last_seen ON stories (last_seen, id);
CREATE TABLE IF NOT EXISTS docs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL UNIQUE,
    url TEXT UNIQUE,
    source TEXT,
    title TEXT,
    story INTEGER NOT NULL REFERENCES stories (id),
    similarity REAL NOT NULL,
    size INTEGER NOT NULL,
    signature BLOB NOT NULL,
    shingles BLOB,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS docs_story ON docs (story, seq);
CREATE INDEX IF NOT EXISTS docs_last_seen ON docs (last_seen);
CREATE TABLE IF NOT EXISTS bands (key INTEGER NOT NULL, doc INTEGER NOT NULL,
    PRIMARY KEY (key, doc)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS band_log (doc INTEGER PRIMARY KEY, keys BLOB NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('band_log_generation', '0');
"""
_KEY_DTYPE = "<i8"  # band keys are signed 64-bit integers (SQLite INTEGER)


class SQLiteStore(Storage):
    """A story store in one SQLite file. ``config=None`` adopts the config stored in the file."""

    def __init__(self, path: str | Path, config: DedupConfig | None = None, autocheckpoint: bool = True) -> None:
        """Open (or create) the store. ``autocheckpoint=False`` leaves folding the WAL into the
        database to someone else (``passive_checkpoint`` on another connection, off the write path):
        SQLite's own checkpoint runs inside the COMMIT that crosses 1,000 WAL pages, with two
        fsyncs, while the writer still holds the write lock that every other writer waits for."""
        self.path = str(path)
        self._conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                     check_same_thread=False)
        self._depth = 0
        # This connection's copy of band_log: key -> docs, up to doc ``_log_upto``, as of generation
        # ``_log_generation`` (None: not read yet).
        self._log: defaultdict[int, list[int]] = defaultdict(list)
        self._log_upto = 0
        self._log_generation: str | None = None
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._enable_wal()
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            if not autocheckpoint:
                self._conn.execute("PRAGMA wal_autocheckpoint = 0")
            # A WAL left long by a burst of writes is cut back to this size when it restarts.
            self._conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
            self.config = self._init_schema(config)
        except BaseException:  # not a database, another config...: no connection left open
            self._conn.close()
            raise

    def _enable_wal(self) -> None:
        """Switch the file to WAL. Two processes creating one store at once race on this switch,
        and SQLite answers "database is locked" at once instead of waiting: retry until the
        busy timeout (the switch happens once per file; later opens find WAL already set)."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode = WAL").fetchone()  # ":memory:" stays "memory"
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(0.01)

    def _init_schema(self, config: DedupConfig | None) -> DedupConfig:
        with self.transaction():
            for statement in filter(str.strip, SCHEMA.split(";")):
                self._conn.execute(statement)
            self._convert_bands_new()
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
            if row is None:
                config = config or DedupConfig()
                self._conn.execute("INSERT INTO meta VALUES ('config', ?), ('schema', ?)",
                                   (json.dumps(config.to_dict(), sort_keys=True), SCHEMA_VERSION))
                return config
        stored = DedupConfig.from_dict(json.loads(row[0]))
        if config is not None and config != stored:
            ours, theirs = config.to_dict(), stored.to_dict()
            diff = ", ".join(f"{k}={theirs[k]!r} (not {ours[k]!r})" for k in ours if ours[k] != theirs[k])
            raise ConfigMismatch(f"{self.path} was made with {diff}; open it without a config to use "
                                 "its own, or use another store")
        return stored

    def _convert_bands_new(self) -> None:
        """A store of schema 1 kept new band rows in ``bands_new``: move them into ``bands``."""
        if self._conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'bands_new'").fetchone():
            self._conn.execute("INSERT OR IGNORE INTO bands SELECT key, doc FROM bands_new ORDER BY key, doc")
            self._conn.execute("DROP TABLE bands_new")
            self._conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (SCHEMA_VERSION,))

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """Several reads that must see one state of the file: the open transaction, else a read one."""
        if self._depth or self._conn.in_transaction:
            yield
            return
        self._conn.execute("BEGIN")
        try:
            yield
        finally:
            self._conn.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (nested calls join the outer transaction)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self._conn.execute("ROLLBACK")
            raise
        self._depth = 0
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error:  # e.g. disk full: leave no half-open transaction behind
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise

    def find(self, doc_ids: Iterable[str] = (), urls: Iterable[str] = ()) -> list[StoredDoc]:
        found = {}
        for column, values in (("doc_id", [v for v in doc_ids if v]), ("url", [v for v in urls if v])):
            for chunk in _chunks(sorted(set(values))):
                marks = ",".join("?" * len(chunk))
                for row in self._conn.execute(f"SELECT seq, doc_id, url, story, similarity FROM docs "
                                              f"WHERE {column} IN ({marks})", chunk):
                    found[row[0]] = StoredDoc(row[0], row[1], row[2], str(row[3]), row[4])
        return list(found.values())

    def candidates(self, band_keys: np.ndarray) -> dict[int, list[int]]:
        keys = unique_sorted(np.ravel(band_keys)).tolist()
        found: defaultdict[int, list[int]] = defaultdict(list)
        with self._snapshot():
            self._read_log()
            for chunk in _chunks(keys):
                marks = ",".join("?" * len(chunk))
                for key, seq in self._conn.execute(f"SELECT key, doc FROM bands WHERE key IN ({marks})", chunk):
                    found[key].append(seq)
        log = self._log
        for key in keys:
            if key in log:
                found[key].extend(log[key])
        return dict(found)

    def _read_log(self) -> None:
        """Bring this connection's copy of ``band_log`` up to date (inside a snapshot)."""
        generation = self._conn.execute("SELECT value FROM meta WHERE key = 'band_log_generation'").fetchone()
        generation = generation[0] if generation else "0"
        if generation != self._log_generation:  # merged or deleted from since we read it: start over
            self._log, self._log_upto, self._log_generation = defaultdict(list), 0, generation
        log, upto = self._log, self._log_upto
        for seq, blob in self._conn.execute("SELECT doc, keys FROM band_log WHERE doc > ? ORDER BY doc", (upto,)):
            for key in np.frombuffer(blob, dtype=_KEY_DTYPE).tolist():
                log[key].append(seq)
            upto = seq
        self._log_upto = upto

    def _bump_log_generation(self) -> None:
        self._conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'band_log_generation'")

    def signatures(self, seqs: list[int]) -> tuple[np.ndarray, np.ndarray, list[str], list[bool]]:
        found = {}
        for chunk in _chunks(seqs):
            marks = ",".join("?" * len(chunk))
            found.update((r[0], r[1:]) for r in self._conn.execute(
                f"SELECT d.seq, d.signature, d.size, d.story, s.representative = d.seq FROM docs d "
                f"JOIN stories s ON s.id = d.story WHERE d.seq IN ({marks})", chunk))
        rows = [found[s] for s in seqs]
        sigs = np.frombuffer(b"".join(r[0] for r in rows), dtype="<u4").reshape(len(rows), -1)
        return sigs, np.array([r[1] for r in rows]), [str(r[2]) for r in rows], [bool(r[3]) for r in rows]

    def shingle_sets(self, seqs: list[int]) -> list[np.ndarray]:
        found = {}
        for chunk in _chunks(seqs):
            marks = ",".join("?" * len(chunk))
            found.update(self._conn.execute(f"SELECT seq, shingles FROM docs WHERE seq IN ({marks})", chunk))
        return [np.frombuffer(found[s] or b"", dtype="<u4") for s in seqs]

    def story_sizes(self, story_ids: Iterable[str]) -> dict[str, int]:
        ids = [int(s) for s in story_ids]
        out = {}
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            out.update((str(r[0]), r[1]) for r in self._conn.execute(
                f"SELECT id, size FROM stories WHERE id IN ({marks})", chunk))
        return out

    def next_ids(self) -> tuple[int, int]:
        rows = dict(self._conn.execute("SELECT name, seq FROM sqlite_sequence"))
        return rows.get("docs", 0) + 1, rows.get("stories", 0) + 1

    def write(self, docs: list[NewDoc], stories: list[StoryChange], touches: list[tuple[int, str]]) -> None:
        with self.transaction():
            conn = self._conn
            conn.executemany("INSERT INTO stories (id, representative, size, first_seen, last_seen) "
                             "VALUES (?, ?, ?, ?, ?)",
                             [(int(c.id), c.representative, c.added, c.first_seen, c.last_seen)
                              for c in stories if c.new])
            conn.executemany("UPDATE stories SET size = size + ?, first_seen = min(first_seen, ?), "
                             "last_seen = max(last_seen, ?) WHERE id = ?",
                             [(c.added, c.first_seen, c.last_seen, int(c.id)) for c in stories if not c.new])
            conn.executemany(
                "INSERT INTO docs (seq, doc_id, url, source, title, story, similarity, size, signature, "
                "shingles, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(d.seq, d.doc_id, d.url, d.source, d.title, int(d.story), float(d.similarity), int(d.size),
                  d.signature.astype("<u4").tobytes(),
                  None if d.shingle_set is None else d.shingle_set.astype("<u4").tobytes(),
                  d.first_seen, d.last_seen) for d in docs])
            logged = [(d.seq, np.asarray(d.band_keys, dtype=_KEY_DTYPE).tobytes()) for d in docs if len(d.band_keys)]
            conn.executemany("INSERT INTO band_log VALUES (?, ?)", logged)
            conn.executemany("UPDATE docs SET last_seen = max(last_seen, ?) WHERE seq = ?",
                             [(seen, seq) for seq, seen in touches])
            conn.executemany("UPDATE stories SET last_seen = max(last_seen, ?) WHERE id = "
                             "(SELECT story FROM docs WHERE seq = ?)", [(seen, seq) for seq, seen in touches])
            if logged and conn.execute("SELECT count(*) FROM band_log").fetchone()[0] * self.config.lsh_params[0] \
                    >= MERGE_ROWS:
                self._merge_bands()

    def _merge_bands(self) -> None:
        """Move ``band_log`` into ``bands`` in key order (each page of ``bands`` written once)."""
        rows = self._conn.execute("SELECT doc, keys FROM band_log").fetchall()
        keys = [np.frombuffer(blob, dtype=_KEY_DTYPE) for _, blob in rows]
        self._conn.executemany("INSERT OR IGNORE INTO bands VALUES (?, ?)",
                               _sorted_rows(keys, [seq for seq, _ in rows]))
        self._conn.execute("DELETE FROM band_log")
        self._bump_log_generation()

    def delete(self, seqs: list[int]) -> int:
        with self.transaction():
            conn, rows = self._conn, []
            for chunk in _chunks(sorted(set(seqs))):
                marks = ",".join("?" * len(chunk))
                rows += conn.execute(f"SELECT seq, story, signature FROM docs WHERE seq IN ({marks})", chunk)
            if not rows:
                return 0
            sigs = np.frombuffer(b"".join(r[2] for r in rows), dtype="<u4").reshape(len(rows), -1)
            keys = band_keys(sigs, self.config)
            owners = np.repeat([r[0] for r in rows], keys.shape[1]).tolist()
            doomed = sorted(zip(keys.ravel().tolist(), owners, strict=True))  # key order: pages in turn
            conn.executemany("DELETE FROM bands WHERE key = ? AND doc = ?", doomed)
            if conn.executemany("DELETE FROM band_log WHERE doc = ?", [(r[0],) for r in rows]).rowcount:
                self._bump_log_generation()  # other connections' copies of the log hold these docs
            conn.executemany("DELETE FROM docs WHERE seq = ?", [(r[0],) for r in rows])
            for story in sorted({r[1] for r in rows}):
                self._refresh_story(story)
        return len(rows)

    def _refresh_story(self, story: int) -> None:
        """After a removal: new representative (earliest left), size and times, or no story."""
        row = self._conn.execute("SELECT min(seq), count(*), min(first_seen), max(last_seen) FROM docs "
                                 "WHERE story = ?", (story,)).fetchone()
        if row[1] == 0:
            self._conn.execute("DELETE FROM stories WHERE id = ?", (story,))
        else:
            self._conn.execute("UPDATE stories SET representative = ?, size = ?, first_seen = ?, "
                               "last_seen = ? WHERE id = ?", (*row, story))

    def seen_before(self, moment: str) -> list[int]:
        return [r[0] for r in self._conn.execute("SELECT seq FROM docs WHERE last_seen < ?", (moment,))]

    def load_stories(self, story_ids: Iterable[str]) -> dict[str, Story]:
        keys = sorted({int(s) for s in story_ids if str(s).isdigit()})
        return {str(key): Story(str(key), tuple(members)) for key, members in self._members(keys).items()}

    def _members(self, story_ids: list[int]) -> dict[int, list[Member]]:
        out: dict[int, list[Member]] = {}
        for chunk in _chunks(story_ids):
            marks = ",".join("?" * len(chunk))
            for row in self._conn.execute(
                    f"SELECT story, doc_id, source, url, title, first_seen, last_seen, seq, similarity "
                    f"FROM docs WHERE story IN ({marks}) ORDER BY story, seq", chunk):
                out.setdefault(row[0], []).append(Member(*row[1:7], seq=row[7], similarity=row[8]))
        return out

    def stories(self, since: str | None, limit: int, after: tuple[str, str] | None) -> list[Story]:
        where, params = [], []
        if since is not None:
            where.append("last_seen >= ?")
            params.append(since)
        if after is not None:
            where.append("(last_seen, id) < (?, ?)")
            params.extend((after[0], int(after[1])))
        sql = "SELECT id FROM stories" + (" WHERE " + " AND ".join(where) if where else "")
        ids = [r[0] for r in self._conn.execute(sql + " ORDER BY last_seen DESC, id DESC LIMIT ?",
                                                (*params, limit))]
        members = self._members(ids)
        return [Story(str(i), tuple(members[i])) for i in ids if members.get(i)]

    def count(self) -> tuple[int, int]:
        docs = self._conn.execute("SELECT count(*) FROM docs").fetchone()[0]
        stories = self._conn.execute("SELECT count(*) FROM stories").fetchone()[0]
        return docs, stories

    def check(self) -> list[str]:
        """Consistency problems (empty list when sound): SQLite's integrity check, story sizes
        and representatives matching the documents, every document's band keys present."""
        conn, problems = self._conn, []
        problems += [r[0] for r in conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
        problems += [f"story {r[0]} size/representative mismatch" for r in conn.execute(
            "SELECT s.id FROM stories s LEFT JOIN (SELECT story, count(*) n, min(seq) m FROM docs "
            "GROUP BY story) d ON d.story = s.id "
            "WHERE d.n IS NULL OR d.n != s.size OR d.m != s.representative")]
        from .match import min_shingles

        bands = self.config.lsh_params[0]
        key_bytes = np.dtype(_KEY_DTYPE).itemsize
        problems += [f"doc {r[0]} has {r[1]} band keys" for r in conn.execute(
            "SELECT seq, n FROM (SELECT d.seq, d.size, "
            f"(SELECT count(*) FROM bands b WHERE b.doc = d.seq) + coalesce(length(l.keys) / {key_bytes}, 0) n "
            "FROM docs d LEFT JOIN band_log l ON l.doc = d.seq) WHERE n > ? OR (n = 0 AND size >= ?)",
            (bands, min_shingles(self.config)))]
        problems += [f"band_log holds keys of doc {r[0]}, which is not stored" for r in conn.execute(
            "SELECT doc FROM band_log WHERE doc NOT IN (SELECT seq FROM docs)")]
        return problems

    def checkpoint(self) -> None:
        """Fold the WAL into the main file (SQLite also does this by itself every 1,000 pages)."""
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _chunks(values: list, size: int = _SQL_VARS) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _sorted_rows(keys: list[np.ndarray], seqs: list[int]) -> Iterator[tuple[int, int]]:
    """(key, seq) rows of documents (their keys, their seqs), sorted: the B-tree then fills page by page."""
    if not keys:
        return iter(())
    flat = np.concatenate(keys)
    owners = np.repeat(seqs, [len(k) for k in keys])
    order = np.lexsort((owners, flat))
    return zip(flat[order].tolist(), owners[order].tolist(), strict=True)


def passive_checkpoint(conn: sqlite3.Connection) -> tuple[int, int]:
    """Copy what the WAL holds into the database file without waiting for or blocking any reader
    or writer (``PRAGMA wal_checkpoint(PASSIVE)``); returns (WAL frames, frames copied so far).
    Writers restart the WAL from its start once it has all been copied."""
    _busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return frames, copied
