"""The API's background WAL checkpointer keeps the story store's WAL bounded under steady writes."""
from __future__ import annotations

import contextlib
import fcntl
import os
import threading

from api.services import WalCheckpointer
from segmenter.dedup import Document, StoryIndex

PAGE = 4096
COMMITS = 400  # per writer


def test_the_wal_restarts_while_writers_keep_writing(tmp_path):
    # Two writers that always have a transaction in flight, as busy web workers do: a checkpoint
    # that runs beside them never copies the last page, so the WAL never restarts by itself.
    path, lock_path = str(tmp_path / "stories.sqlite3"), str(tmp_path / "stories.sqlite3.lock")
    StoryIndex.open(path, autocheckpoint=False).close()
    checkpointer = WalCheckpointer(path, lock_path, interval=0.02, restart_frames=100)
    checkpointer.start()
    written, wal_sizes = [], []

    def writer(name: str) -> None:
        with StoryIndex.open(path, autocheckpoint=False) as index, open(lock_path, "ab") as lock:
            for i in range(COMMITS):
                doc = Document(f"{name}-{i}", f"story {name} {i} " + " ".join(f"w{name}{i}x{k}" for k in range(80)))
                sketches = index.prepare([doc])
                with _flock(lock):
                    index.place(sketches)
                wal_sizes.append(os.path.getsize(path + "-wal"))
            written.append(name)

    threads = [threading.Thread(target=writer, args=(name,)) for name in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    checkpointer.stop()
    assert sorted(written) == ["a", "b"]
    with StoryIndex.open(path) as index:
        assert index.count()[0] == 2 * COMMITS and index.storage.check() == []
    # 800 commits write ~7,900 pages: the WAL's size if it never restarted (measured without the
    # locked step). With it the WAL peaks at 300-1,200 pages, depending on how busy the machine is.
    assert max(wal_sizes) < 3000 * PAGE


@contextlib.contextmanager
def _flock(handle):
    fcntl.flock(handle, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
