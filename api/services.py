"""What the routes share inside one worker process: the loaded model and the story store.

Both are opened once when the app is built (``init_app``), never per request: the model is loaded by
segmenting a tiny page, and the SQLite story store is opened at the configured path. Every worker
process opens its own store connection; the store itself (SQLite, with its locking) is what the
workers share, as the design asks.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from flask import Flask, current_app

from api.deadline import DeadlineExceeded, call_with_deadline
from api.errors import ApiError
from api.metrics import current_metrics
from segmenter import Page, Segmentation, segment

log = logging.getLogger(__name__)

# Seconds between background WAL checkpoints (see WalCheckpointer). At a few hundred ingests a
# second the WAL grows by a few MB in this time; each checkpoint costs two fsyncs.
CHECKPOINT_SECONDS = 0.5
# WAL pages (4 KiB) above which a checkpoint takes the write lock to let the WAL restart: SQLite's
# own automatic checkpoint size.
RESTART_FRAMES = 1000

WARM_UP_PAGE = "Warm-up\n\nThis short paragraph makes the segmenter load its model before any request."
WARM_UP_HTML = ("<html><head><title>Warm-up</title></head><body><h1>Warm-up</h1>"
                f"<p>{WARM_UP_PAGE}</p></body></html>")


@dataclass
class Services:
    """The per-process resources of one app."""

    model_ready: bool = False
    model_error: str | None = None
    store_path: str | None = None
    index: Any = None  # segmenter.dedup.StoryIndex, when the store could be opened
    store_error: str | None = None
    # One lock per process around the store: a threaded server must not interleave two writers on
    # one SQLite connection. Sync gunicorn workers never contend for it.
    store_lock: threading.Lock = field(default_factory=threading.Lock)
    write_lock_file: IO[bytes] | None = None

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Exclusive store access for one write, across threads and worker processes.

        SQLite already serialises writers (``BEGIN IMMEDIATE``), but a writer that finds the database
        locked sleeps in SQLite's busy handler (1, 2, 5 ... 100 ms steps) instead of waking when the
        lock is free: with several workers that sleep is most of the ingest p99. An ``flock`` on a
        file next to the store queues the workers in the kernel, which wakes the next one at once.
        """
        with self.store_lock:
            if self.write_lock_file is None:
                yield
                return
            fcntl.flock(self.write_lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self.write_lock_file, fcntl.LOCK_UN)


class WalCheckpointer:
    """Folds the story store's WAL into the database file from a background thread.

    The workers open the store with SQLite's automatic checkpoint off: it would run inside the
    COMMIT of whichever ingest crosses 1,000 WAL pages, copying the pages and waiting for two
    fsyncs while that worker holds the write lock every other worker queues on (measured: 0.5-0.8
    ms of the ~2 ms an ingest held the lock, on average, and the p99 spikes). Instead, every
    ``interval`` seconds this thread, on a connection of its own (sqlite3 releases the GIL while it
    works):

    1. runs a PASSIVE checkpoint, which copies WAL pages into the database without waiting for or
       blocking readers and writers: the bulk of the work, beside the requests;
    2. if the WAL still holds over ``restart_frames`` pages, runs another one holding the workers'
       write lock (the ``flock`` of ``Services.writing``). Under a steady stream of writes a
       checkpoint that runs beside them never catches up with the last page, and SQLite restarts
       the WAL from its beginning only once all of it is copied: without this step the WAL file
       grows without bound (measured: 170 MB after 4,000 ingests). With the lock held no ingest is
       mid-transaction, so this one copies the few pages written since step 1 and the next writer
       restarts the WAL; the lock is held for those pages and two fsyncs (~10 ms).

    Durability is unchanged: an ingest is committed to the WAL (synchronous=NORMAL) before the
    client gets its answer, checkpointed or not. Every worker runs one; when two overlap, SQLite
    lets one through and the other returns busy.
    """

    def __init__(self, path: str, lock_path: str | None = None, interval: float = CHECKPOINT_SECONDS,
                 restart_frames: int = RESTART_FRAMES) -> None:
        self.path = path
        self.lock_path = lock_path
        self.interval = interval
        self.restart_frames = restart_frames
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (a daemon: it never delays the worker's exit)."""
        self._thread = threading.Thread(target=self._run, name="wal-checkpointer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end after its current checkpoint."""
        self._stop.set()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        lock: IO[bytes] | None = None
        try:
            while not self._stop.wait(self.interval):
                # The thread must outlive any error: with the automatic checkpoint off, nothing
                # else keeps the WAL from growing (the other workers' checkpointers aside).
                try:
                    if conn is None:
                        conn = sqlite3.connect(self.path, timeout=1.0, isolation_level=None)
                    if lock is None and self.lock_path:
                        # Its own open file: flock then excludes it from this process's writers too.
                        lock = open(self.lock_path, "ab")
                    self.checkpoint(conn, lock)
                except (sqlite3.Error, OSError) as exc:  # busy, disk full...: the next round tries again
                    log.debug("WAL checkpoint of %s: %s", self.path, exc)
                except Exception:  # noqa: BLE001 - logged, and the next round tries again
                    log.exception("WAL checkpoint of %s failed", self.path)
        finally:
            if conn is not None:
                conn.close()
            if lock is not None:
                lock.close()

    def checkpoint(self, conn: sqlite3.Connection, lock: IO[bytes] | None) -> None:
        """One round: steps 1 and 2 of the class docstring."""
        from segmenter.dedup.sqlite import passive_checkpoint

        frames, _ = passive_checkpoint(conn)
        if frames <= self.restart_frames or lock is None:
            return
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            passive_checkpoint(conn)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def current_services() -> Services:
    """The services of the running app."""
    return current_app.extensions["segmenter.services"]


def run_segmentation(page: Page) -> Segmentation:
    """Segment ``page`` within the configured time limit (``SEGMENT_TIMEOUT`` seconds)."""
    limit = current_app.config.get("SEGMENT_TIMEOUT")
    try:
        return call_with_deadline(lambda: segment(page), limit)
    except DeadlineExceeded:
        current_metrics().inc("segmenter_segmentation_timeouts_total")
        raise ApiError(422, "segmentation_timeout",
                       f"segmenting this page took longer than the {limit} s limit") from None


def story_index() -> Any:
    """The open story index, or 503 when the store could not be opened."""
    services = current_services()
    if services.index is None:
        raise ApiError(503, "store_unavailable", f"the story store is not available: {services.store_error}")
    return services.index


def store_writable(path: str | None, timeout: float = 1.0) -> tuple[bool, str]:
    """Whether the SQLite store at ``path`` can take a write lock right now (nothing is written)."""
    if not path:
        return False, "no store path configured"
    try:
        conn = sqlite3.connect(path, timeout=timeout)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.rollback()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return False, f"store at {path} is not writable: {exc}"
    return True, "ok"


def warm_up_model(services: Services) -> None:
    """Load the model by segmenting tiny pages; record whether it worked in ``services``."""
    # Both paths: the first page of each kind pays one-off loading (model, HTML parser, caches)
    # that would otherwise count against the first client's time limit.
    try:
        segment(WARM_UP_PAGE, "text")
        segment(WARM_UP_HTML, "html")
        services.model_ready, services.model_error = True, None
    except Exception as exc:  # a broken model must not stop the process: /readyz reports it
        log.exception("the segmentation model failed to load")
        services.model_error = f"{type(exc).__name__}: {exc}"


def _open_store(app: Flask, services: Services) -> None:
    services.store_path = app.config["STORE_PATH"]
    try:
        from segmenter.dedup import StoryIndex

        services.index = StoryIndex.open(services.store_path, dedup_config(app.config), autocheckpoint=False)
        lock_path = f"{services.store_path}.lock"
        services.write_lock_file = open(lock_path, "ab")  # kept open for the process
        checkpointer = WalCheckpointer(services.store_path, lock_path)
        checkpointer.start()
        # An app dropped without shutting down (tests build many) takes its thread with it.
        weakref.finalize(services, checkpointer.stop)
        _warm_up_store(services.index)
    except Exception as exc:  # reported by /readyz and as 503 on the story endpoints
        log.exception("the story store could not be opened")
        services.store_error = f"{type(exc).__name__}: {exc}"


def _warm_up_store(index: Any) -> None:
    # The first signature and the first story query pay one-off costs (numpy set-up, SQLite page
    # cache): pay them at start-up, not in the first client's request. Nothing is written.
    from segmenter.dedup import Document, cluster

    cluster([Document("warm-up", WARM_UP_PAGE * 20)], index.config)
    index.stories(limit=1)


def dedup_config(config: dict[str, Any]) -> Any:
    """A DedupConfig from ``DEDUP_*`` settings (``DEDUP_THRESHOLD`` ...), or None to use the store's own."""
    from dataclasses import fields

    from segmenter.dedup import DedupConfig

    known = {f.name for f in fields(DedupConfig)}
    overrides = {key[len("DEDUP_"):].lower(): value for key, value in config.items()
                 if key.startswith("DEDUP_") and key[len("DEDUP_"):].lower() in known and value is not None}
    return DedupConfig(**overrides) if overrides else None


def init_app(app: Flask) -> None:
    """Load the model and open the story store for this process."""
    services = Services()
    warm_up_model(services)
    _open_store(app, services)
    app.extensions["segmenter.services"] = services
