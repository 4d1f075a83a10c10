"""The local pipeline: statuses, summary, output, resume (including a real kill -9), stories."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_paths import CRAWL, REPO, needs_shared

try:
    import psutil
except ImportError:  # only used to check that no worker outlives a killed run
    psutil = None

from segmenter.batch.run import ARTICLES_FILE, RECORDS_FILE, SUMMARY_FILE, RunError, run
from segmenter.cli import main as cli_main

OUTPUT_FIELDS = {"id", "url", "source", "ordinal", "status", "reason", "kind", "title", "body", "teasers",
                 "story_id"}


def read_rows(out: Path) -> list[dict]:
    with open(out / ARTICLES_FILE, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def line_count(path: Path) -> int:
    try:
        with open(path, "rb") as handle:
            return handle.read().count(b"\n")
    except FileNotFoundError:
        return 0


def test_run_tiny_fixtures_statuses_and_summary(tmp_path, tiny_warc, tiny_wet):
    summary = run([tiny_warc, tiny_wet], str(tmp_path), timeout=10)
    rows = read_rows(tmp_path)
    assert len(rows) == summary.read == 8
    assert all(set(row) == OUTPUT_FIELDS for row in rows)
    statuses = [row["status"] for row in rows]
    assert statuses[2:5] == ["skipped", "skipped", "skipped"]  # 404, image, revisit
    assert summary.skipped == 3 and summary.kept + summary.failed == 5
    assert statuses[5:] == ["ok", "ok", "ok"]  # WET text
    assert rows[5]["body"] and rows[5]["url"] == "https://news.example/wet/0"
    saved = json.loads((tmp_path / SUMMARY_FILE).read_text())
    assert saved["read"] == 8 and saved["skipped"] == 3


def test_rerun_of_a_finished_run_does_nothing_and_other_options_are_refused(tmp_path, tiny_wet):
    first = run([tiny_wet], str(tmp_path))
    before = (tmp_path / ARTICLES_FILE).read_bytes()
    again = run([tiny_wet], str(tmp_path))
    assert again.read == first.read and (tmp_path / ARTICLES_FILE).read_bytes() == before
    with pytest.raises(RunError, match="different run"):
        run([tiny_wet], str(tmp_path), dedup=True)


def test_same_input_twice_is_refused(tmp_path, tiny_wet):
    with pytest.raises(RunError, match="more than once"):
        run([tiny_wet, tiny_wet], str(tmp_path))


def test_resume_after_a_half_written_line_gives_the_same_output(tmp_path, tiny_warc, tiny_wet):
    clean, cut = tmp_path / "clean", tmp_path / "cut"
    run([tiny_warc, tiny_wet], str(clean), dedup=True)
    run([tiny_warc, tiny_wet], str(cut), dedup=True)
    # what a kill in the middle of a write leaves: 3 whole lines and half of the 4th, no output yet
    records = (cut / RECORDS_FILE).read_bytes()
    lines = records.split(b"\n")
    (cut / RECORDS_FILE).write_bytes(b"\n".join(lines[:3]) + b"\n" + lines[3][:40])
    (cut / ARTICLES_FILE).unlink()
    (cut / SUMMARY_FILE).unlink()
    summary = run([tiny_warc, tiny_wet], str(cut), dedup=True)
    assert summary.resumed_from == 3 and summary.read == 8
    assert (cut / ARTICLES_FILE).read_bytes() == (clean / ARTICLES_FILE).read_bytes()


def test_broken_inputs_are_counted_not_fatal(tmp_path, tiny_wet):
    bad = tmp_path / "bad.warc"
    bad.write_text("this is not a WARC file\n")
    summary = run([str(bad), tiny_wet], str(tmp_path / "out"))
    assert summary.read == 3 and len(summary.input_errors) == 1 and "bad.warc" in summary.input_errors[0]


def test_time_limit_fails_only_the_slow_document(tmp_path, monkeypatch):
    import segmenter.batch.process as process

    real = process.segment

    def slow_on_marker(page, content_type=None):
        if "SLOW" in page.text:
            time.sleep(5)
        return real(page, content_type)

    monkeypatch.setattr(process, "segment", slow_on_marker)  # a pathological page, not the engine
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps({"id": str(i), "text": f"Title {i}\n\n" + "word " * 40})
                              for i in range(3)) + "\n" + json.dumps({"id": "x", "text": "SLOW page"}) + "\n")
    started = time.monotonic()
    summary = run([str(path)], str(tmp_path / "out"), timeout=0.5)
    assert time.monotonic() - started < 4
    rows = read_rows(tmp_path / "out")
    assert [r["status"] for r in rows] == ["ok", "ok", "ok", "failed"]
    assert "time limit" in rows[3]["reason"] and summary.failed == 1


def test_cli_run_prints_a_summary(tmp_path, tiny_wet, capsys):
    assert cli_main(["run", tiny_wet, "--out", str(tmp_path), "--workers", "2"]) == 0
    err = capsys.readouterr().err
    assert "read 3, kept 3, skipped 0, failed 0" in err
    assert cli_main(["run", str(tmp_path / "nope.warc.gz"), "--out", str(tmp_path / "o")]) == 2


# ---------------------------------------------------------------------------------------------
# kill -9 for real: a subprocess, SIGKILL while it writes, rerun, check every record and story

SAMPLE = "cc-2016-50-single-member.wet.gz"  # 25 real pages, cheap to segment
COPIES = 8  # 200 records: every page's story has 8 members that a restart could split


def _copies(tmp_path: Path) -> list[str]:
    paths = []
    for i in range(COPIES):
        link = tmp_path / f"crawl-{i:02d}.wet.gz"
        link.symlink_to(CRAWL / SAMPLE)
        paths.append(str(link))
    return paths


def _start(inputs: list[str], out: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "segmenter", "run", *inputs, "--out", str(out), "--dedup",
           "--workers", "2", "--quiet"]
    return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_after(proc: subprocess.Popen, path: Path, lines: int) -> int:
    """SIGKILL ``proc`` once ``path`` has at least ``lines`` lines; return the lines it had then."""
    deadline = time.monotonic() + 300
    while line_count(path) < lines:
        assert proc.poll() is None, f"finished before the kill: {proc.stderr.read().decode()[-500:]}"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    workers = psutil.Process(proc.pid).children() if psutil else []
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    if psutil:  # the pool's workers follow their killed parent within a few seconds
        gone, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive, f"orphaned workers: {alive}"
    return line_count(path)


@needs_shared
@pytest.mark.slow
def test_kill_9_twice_then_rerun_gives_every_record_once_and_no_story_split(tmp_path):
    from segmenter.dedup.cluster import cluster
    from segmenter.dedup.document import Document

    inputs = _copies(tmp_path)
    total = 25 * COPIES
    out = tmp_path / "killed"
    for fraction in (0.25, 0.6):
        at = _kill_after(_start(inputs, out), out / RECORDS_FILE, int(total * fraction))
        assert at < total and not (out / SUMMARY_FILE).exists()
    finish = _start(inputs, out)
    assert finish.wait(timeout=600) == 0, finish.stderr.read().decode()[-2000:]
    rows = read_rows(out)
    ids = [row["id"] for row in rows]
    assert ids == [f"{path}#{i}" for path in inputs for i in range(25)]  # each once, in order

    by_page: dict = {}
    for row in rows:  # the copies of a page, segmented before or after a kill, are identical
        page = {k: v for k, v in row.items() if k not in ("id", "source", "story_id")}
        by_page.setdefault(row["ordinal"], []).append((page, row["story_id"], row["id"]))
    merged = 0
    for copies in by_page.values():
        assert all(page == copies[0][0] for page, _, _ in copies)
        stories = {story for _, story, _ in copies}
        if len(stories) == 1:  # no story split
            merged += stories != {None}
        else:  # a text too short to merge: every copy is its own story, never a part of another
            assert all(story == own for _, story, own in copies)
    assert merged >= 10
    signed = [row for row in rows if row["story_id"]]
    expected = cluster([Document(row["id"], row["body"]) for row in signed])
    assert [row["story_id"] for row in signed] == [a.cluster for a in expected]  # as if never killed


def test_progress_line_shows_rate_and_errors():
    import io

    from segmenter.batch.run import Progress, Summary

    stream = io.StringIO()
    progress = Progress(stream, enabled=True)
    summary = Summary(read=40, kept=37, skipped=1, failed=2, input_errors=["x"])
    progress.update(summary, force=True)
    progress.close()
    line = stream.getvalue()
    assert line.startswith("\r40 records") and "rec/s" in line and "errors 3" in line
    quiet = io.StringIO()
    Progress(quiet).update(summary, force=True)  # StringIO is not a terminal: no progress line
    assert quiet.getvalue() == ""


def _freeze_counts(batch: list) -> list[int]:
    """One row per item: how many objects this worker inherited frozen (see ``run._new_pool``)."""
    import gc

    return [gc.get_freeze_count()] * len(batch)


def test_workers_inherit_frozen_objects_and_the_parent_unfreezes_after():
    """The forked workers must not collect what they inherit (a full collection writes to every
    inherited object and un-shares its page: ~30 MB a worker mid-run); the parent collects its own
    objects again once the pool is gone."""
    import gc

    from segmenter.batch.run import map_batches

    assert gc.get_freeze_count() == 0
    counts = [count for rows in map_batches(_freeze_counts, range(20), workers=2) for count in rows]
    assert len(counts) == 20
    assert min(counts) > 1000  # the interpreter alone holds tens of thousands of tracked objects
    assert gc.get_freeze_count() == 0
