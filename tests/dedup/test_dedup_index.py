"""StoryIndex over SQLiteStore: add, idempotency, persistence, removal, expiry, paging, crashes."""
from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import sys
import time
from collections import defaultdict

import numpy as np
import pytest
from dedup_helpers import variant

from segmenter.dedup import ConfigMismatch, DedupConfig, Document, SQLiteStore, StoryIndex, cluster


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "stories.db")


def test_add_founds_then_joins_and_reports(db, stories):
    text = stories[0]["text"]
    with StoryIndex.open(db) as index:
        first = index.add(Document("a", text, url="https://a.example/1", source="A", title="Dredging"))
        second = index.add(Document("b", variant(text, "footer"), url="https://b.example/9", source="B"))
        other = index.add(Document("c", stories[1]["text"], source="C"))
    assert first.is_new and first.similarity == 1.0
    assert not second.is_new and second.story_id == first.story_id and 0.5 < second.similarity < 1
    assert other.is_new and other.story_id != first.story_id
    story = second.story.to_dict()
    assert set(story) == {"id", "title", "canonical", "members", "size", "first_seen", "last_seen"}
    assert story["size"] == 2 and story["title"] == "Dredging"
    assert story["canonical"]["doc_id"] == "a"
    assert [m["source"] for m in story["members"]] == ["A", "B"]
    assert set(story["members"][0]) == {"doc_id", "source", "url", "title", "first_seen", "last_seen"}


def test_readding_the_same_url_or_id_is_idempotent(db, stories):
    text = stories[0]["text"]
    with StoryIndex.open(db) as index:
        first = index.add(Document("a", text, url="https://a.example/1", seen="2026-01-01T00:00:00Z"))
        again = index.add(Document("a-2", text + " Updated.", url="https://a.example/1",
                                   seen="2026-01-02T00:00:00Z"))
        same_id = index.add(Document("a", "some other text entirely", seen="2026-01-03T00:00:00Z"))
        assert index.count() == (1, 1)
    assert again.story_id == first.story_id == same_id.story_id and not again.is_new
    assert same_id.story.last_seen.startswith("2026-01-03")
    assert same_id.story.first_seen.startswith("2026-01-01")


def test_persistence_across_reopen_and_config_guard(db, stories):
    config = DedupConfig(threshold=0.4)
    with StoryIndex.open(db, config) as index:
        founded = index.add(Document("a", stories[2]["text"]))
    with StoryIndex.open(db) as index:  # no config: the store's own
        assert index.config == config
        joined = index.add(Document("b", variant(stories[2]["text"], "dateline")))
        assert joined.story_id == founded.story_id and joined.story.size == 2
    with pytest.raises(ConfigMismatch, match="threshold"):
        SQLiteStore(db, DedupConfig(threshold=0.5))
    with pytest.raises(ConfigMismatch, match="ngram"):
        SQLiteStore(db, DedupConfig(ngram=5, threshold=0.4))


def test_index_gives_the_same_stories_as_cluster(db, corpus):
    docs, _ = corpus
    with StoryIndex.open(db) as index:
        added = [index.add(doc) for doc in docs[:12]] + index.add_many(docs[12:])
        assert index.storage.check() == []
    by_story, by_cluster = defaultdict(set), defaultdict(set)
    for doc, res, assignment in zip(docs, added, cluster(docs), strict=True):
        by_story[res.story_id].add(doc.id)
        by_cluster[assignment.cluster].add(doc.id)
        assert res.similarity == assignment.similarity
    assert sorted(map(sorted, by_story.values())) == sorted(map(sorted, by_cluster.values()))


def test_exact_mode_store(db, corpus):
    docs, truth = corpus
    with StoryIndex.open(db, DedupConfig(exact=True)) as index:
        results = index.add_many(docs)
    assert len({r.story_id for r in results}) == len(set(truth.values()))


def test_remove_by_id_and_url_moves_the_representative(db, stories):
    text = stories[3]["text"]
    with StoryIndex.open(db) as index:
        index.add(Document("a", text, url="https://a.example/x"))
        res = index.add(Document("b", variant(text, "dateline"), url="https://b.example/y"))
        index.add(Document("c", variant(text, "footer")))
        assert index.remove("https://a.example/x")
        story = index.get(res.story_id)
        assert story.canonical.doc_id == "b" and story.size == 2
        assert index.remove("b") and index.remove("c")
        assert not index.remove("c")
        assert index.get(res.story_id) is None and index.count() == (0, 0)
        assert index.storage.check() == []
        assert index.match(text) is None  # band keys went with the documents


def test_expire_removes_documents_not_seen_since(db, stories):
    with StoryIndex.open(db) as index:
        old = index.add(Document("old", stories[0]["text"], seen="2026-01-01T00:00:00Z"))
        index.add(Document("old-copy", variant(stories[0]["text"], "footer"), seen="2026-03-01T00:00:00Z"))
        index.add(Document("new", stories[1]["text"], seen="2026-03-02T00:00:00+00:00"))
        assert index.expire("2026-02-01T00:00:00Z") == 1
        story = index.get(old.story_id)
        assert [m.doc_id for m in story.members] == ["old-copy"]
        assert story.first_seen.startswith("2026-03-01")
        assert index.expire("2027-01-01") == 2 and index.count() == (0, 0)
        assert index.storage.check() == []


def test_stories_newest_first_with_cursor_and_since(db, stories):
    with StoryIndex.open(db) as index:
        for day, story in enumerate(stories, 1):
            index.add(Document(story["id"], story["text"], seen=f"2026-05-0{day}T12:00:00Z"))
        page, cursor = index.stories(limit=4)
        assert [s.canonical.doc_id for s in page] == ["market", "observatory", "bridge", "orchard"]
        rest, end = index.stories(limit=4, cursor=cursor)
        assert [s.canonical.doc_id for s in rest] == ["library", "harbour"] and end is None
        recent, _ = index.stories(since="2026-05-05T00:00:00Z")
        assert [s.canonical.doc_id for s in recent] == ["market", "observatory"]
        with pytest.raises(ValueError):
            index.stories(cursor="garbage")


def test_short_and_empty_documents_found_their_own_stories(db):
    with StoryIndex.open(db) as index:
        results = index.add_many([Document(f"e{i}", "" if i % 2 else "Reuters") for i in range(20)])
        assert len({r.story_id for r in results}) == 20
        assert index.storage.check() == []


# Worker processes come from a fork server, not a fork of this process: by the time these tests run,
# the test process has threads (the API tests' servers, OpenMP pools), and a forked child can
# inherit a lock one of them held and hang.
PROCESSES = multiprocessing.get_context("forkserver")


def _run_together(target, arg_tuples: list[tuple]) -> None:
    """Start one process per argument tuple, released at once by a barrier (passed as the last
    argument); each must exit cleanly within 60 s."""
    start = PROCESSES.Barrier(len(arg_tuples))
    workers = [PROCESSES.Process(target=target, args=(*args, start)) for args in arg_tuples]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0


def _writer(path: str, docs: list[tuple[str, str]], start=None) -> None:
    with StoryIndex.open(path) as index:
        if start is not None:
            start.wait(30)  # all four begin together
        for doc_id, text in docs:
            index.add(Document(doc_id, text, url=f"https://example.org/{doc_id}"))


@pytest.mark.parametrize("merge_rows", [None, 200])
def test_four_processes_writing_concurrently_lose_nothing_and_split_no_story(db, stories, merge_rows, monkeypatch):
    if merge_rows:  # band-log merges every few documents, by whichever process crosses the line
        monkeypatch.setattr(sys.modules["segmenter.dedup.sqlite"], "MERGE_ROWS", merge_rows)
    with StoryIndex.open(db):
        pass  # create the store once, so the writers race on documents, not on the schema
    docs = []
    for story in stories:
        for k in range(24):
            kind = ("dateline", "footer", "noise", "drop")[k % 4]
            docs.append((f"{story['id']}-{k}", variant(story["text"], kind, seed=k)))
    shares = [docs[i::4] for i in range(4)]  # every process gets copies of every story
    _run_together(_writer, [(db, share) for share in shares])
    with StoryIndex.open(db) as index:
        assert index.count() == (len(docs), len(stories))
        pages, _ = index.stories(limit=100)
        for story in pages:
            assert len({m.doc_id.rsplit("-", 1)[0] for m in story.members}) == 1
        assert index.storage.check() == []


def _crash_mid_transaction(path: str, text: str) -> None:
    from segmenter.dedup import band_keys, sketch
    from segmenter.dedup.planner import BatchPlan

    index = StoryIndex.open(path)
    doc = Document("ghost", text)
    sigs, sizes, sets = sketch([text], index.config)
    transaction = index.storage.transaction()
    transaction.__enter__()  # BEGIN IMMEDIATE, then die before COMMIT
    plan = BatchPlan(index.storage, index.config, sigs, sizes, sets, band_keys(sigs, index.config), [doc])
    plan.place(0, doc, "2026-01-01T00:00:00.000000Z")
    plan.write()
    assert index.count() == (2, 2)  # written, inside the transaction
    os._exit(3)


def test_a_crash_mid_write_leaves_the_store_consistent(db, stories):
    with StoryIndex.open(db) as index:
        index.add(Document("kept", stories[0]["text"]))
    process = PROCESSES.Process(target=_crash_mid_transaction, args=(db, stories[1]["text"]))
    process.start()
    process.join(30)
    assert process.exitcode == 3
    with StoryIndex.open(db) as index:
        assert index.count() == (1, 1)
        assert index.storage.check() == []
        assert index.add(Document("ghost", stories[1]["text"])).is_new


def _endless_writer(path: str, text: str) -> None:
    with StoryIndex.open(path) as index:
        for i in range(100_000):
            index.add(Document(f"w{i}", f"{text} {i}", url=f"https://example.org/{i}"))


def test_a_killed_writer_leaves_whole_documents_only(db, stories):
    with StoryIndex.open(db):
        pass
    process = PROCESSES.Process(target=_endless_writer, args=(db, stories[4]["text"]))
    process.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with StoryIndex.open(db) as index:
            if index.count()[0] >= 30:
                break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.join(10)
    with StoryIndex.open(db) as index:
        docs, stories_count = index.count()
        assert docs >= 30 and stories_count == 1  # all copies of one story, none half-written
        assert index.storage.check() == []


def test_a_store_that_is_not_sqlite_is_refused(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(sqlite3.DatabaseError):
        StoryIndex.open(str(path))


def test_band_rows_merged_into_the_main_table_still_match_and_delete(db, corpus, monkeypatch):
    import segmenter.dedup.sqlite  # noqa: F401  (the module; the package exports the class)

    monkeypatch.setattr(sys.modules["segmenter.dedup.sqlite"], "MERGE_ROWS", 100)
    docs, truth = corpus
    with StoryIndex.open(db) as index:
        results = [index.add(doc) for doc in docs]
        merged = index.storage._conn.execute("SELECT count(*) FROM bands").fetchone()[0]
        assert merged > 0
        assert len({r.story_id for r in results}) == len(set(truth.values()))
        assert index.match(docs[0].text) == (results[0].story_id, 1.0)
        assert index.remove(docs[0].id)
        assert index.storage.check() == []


def test_two_connections_keep_up_with_each_others_band_log(db, corpus, monkeypatch):
    # Each connection holds a copy of the band log; the other one's adds, merges (a merge every
    # few documents here) and removals must reach it, or documents would miss their story.
    monkeypatch.setattr(sys.modules["segmenter.dedup.sqlite"], "MERGE_ROWS", 150)
    docs, _ = corpus
    with StoryIndex.open(db) as first, StoryIndex.open(db) as second:
        added = [(first if i % 3 else second).add(doc) for i, doc in enumerate(docs)]
        assert first.storage._conn.execute("SELECT count(*) FROM bands").fetchone()[0] > 0
        by_story, by_cluster = defaultdict(set), defaultdict(set)
        for doc, res, assignment in zip(docs, added, cluster(docs), strict=True):
            by_story[res.story_id].add(doc.id)
            by_cluster[assignment.cluster].add(doc.id)
        assert sorted(map(sorted, by_story.values())) == sorted(map(sorted, by_cluster.values()))
        last = docs[-1]
        assert second.match(last.text)[0] == added[-1].story_id
        for doc in docs[-6:]:  # the newest documents: still in the log, not merged
            assert first.remove(doc.id)
        assert second.add(Document("again", last.text)).story_id == added[-1].story_id
        assert second.storage.check() == [] and first.storage.check() == []


def test_a_store_with_the_old_bands_new_table_is_converted(db, corpus):
    docs, _ = corpus
    with StoryIndex.open(db) as index:
        founded = index.add(docs[0])
    # Schema 1 kept the newest band rows in ``bands_new``: rebuild that state by hand.
    conn = sqlite3.connect(db)
    conn.executescript("CREATE TABLE bands_new (key INTEGER NOT NULL, doc INTEGER NOT NULL, "
                       "PRIMARY KEY (key, doc)) WITHOUT ROWID;")
    for doc, blob in conn.execute("SELECT doc, keys FROM band_log").fetchall():
        conn.executemany("INSERT INTO bands_new VALUES (?, ?)",
                         [(key, doc) for key in np.frombuffer(blob, dtype="<i8").tolist()])
    conn.execute("DELETE FROM band_log")
    conn.commit()
    conn.close()
    with StoryIndex.open(db) as index:  # opening converts it
        assert index.storage.check() == []
        assert index.add(docs[6]).story_id == founded.story_id  # a variant of the same story
        assert not index.storage._conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'bands_new'").fetchone()


def _open_and_add(path: str, doc_id: str, text: str, start) -> None:
    start.wait(30)
    with StoryIndex.open(path) as index:
        index.add(Document(doc_id, text))


def test_four_processes_creating_the_same_new_store_at_once(db, stories):
    texts = [variant(stories[5]["text"], "dateline", i) for i in range(4)]
    _run_together(_open_and_add, [(db, f"copy-{i}", text) for i, text in enumerate(texts)])
    with StoryIndex.open(db) as index:
        assert index.count() == (4, 1)
        assert index.storage.check() == []


def test_bucket_cap_is_the_same_in_the_index_and_in_cluster(db, corpus):
    docs, _ = corpus
    config = DedupConfig(max_bucket=3)  # buckets here hold up to 6 copies
    with StoryIndex.open(db, config) as index:
        added = [index.add(doc) for doc in docs[:20]] + index.add_many(docs[20:])
    by_story, by_cluster = defaultdict(set), defaultdict(set)
    for doc, res, assignment in zip(docs, added, cluster(docs, config), strict=True):
        by_story[res.story_id].add(doc.id)
        by_cluster[assignment.cluster].add(doc.id)
        assert res.similarity == assignment.similarity
    assert sorted(map(sorted, by_story.values())) == sorted(map(sorted, by_cluster.values()))
