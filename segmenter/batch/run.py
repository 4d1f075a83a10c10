"""The local batch pipeline: read -> segment (+ sign) -> write, then (with dedup) cluster -> write.

Shape, and why:

1. **Segment stage, streaming and resumable.** Records are read in input order and handed to a pool
   of worker processes in small batches, with a bounded number of batches in flight (so memory does
   not grow with the input). Results come back in input order and are appended, one JSON line per
   record, to ``OUT/records.jsonl``, flushed after every batch. Because the file is in input order
   and readers are deterministic, the file *is* the checkpoint: on a rerun the pipeline cuts a
   half-written last line, counts the complete lines N, skips the first N records of the input and
   carries on. A kill -9 at any point therefore loses at most the batches in flight, never writes a
   record twice, and never needs a separate checkpoint file that could disagree with the output.
2. **Story stage (``--dedup``), after the last record.** Stories are connected components over
   verified MinHash-LSH pairs of the whole input (see ``segmenter.batch.stories``): the same pure
   functions the Spark job uses, so both give the same clusters. Running it once over the complete
   ``records.jsonl`` (band keys and signatures in an on-disk SQLite table, not in memory) is what
   makes "no story split" hold after any number of kills: there is no half-built story state to
   resume. The stage is idempotent and reruns from scratch if it was killed.
3. **Output.** ``OUT/articles.jsonl`` (one line per record, in input order: url, title, body, teasers,
   story_id, status ...) is written to a temporary name and renamed, then ``OUT/summary.json``.
   A run whose ``summary.json`` exists is complete; rerunning it only prints the summary.
"""
from __future__ import annotations

import concurrent.futures as futures
import gc
import itertools
import json
import logging
import os
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial

from segmenter.batch import stories
from segmenter.batch.process import FAILED, OK, SKIPPED, process_records
from segmenter.batch.readers import Record, read_inputs

log = logging.getLogger(__name__)

RECORDS_FILE = "records.jsonl"
ARTICLES_FILE = "articles.jsonl"
SUMMARY_FILE = "summary.json"
RUN_FILE = "run.json"
# Records per task sent to a worker: big enough that pickling and IPC stay small next to the
# segmentation (~10 ms a page), small enough that a kill loses little work.
BATCH_SIZE = 8
# Batches in flight per worker: keeps every worker busy while the reader and writer catch up.
BATCHES_IN_FLIGHT_PER_WORKER = 3
PROGRESS_INTERVAL = 0.5  # seconds between progress-line updates


class RunError(Exception):
    """The run cannot start (the output folder holds a different run, no inputs ...)."""


@dataclass
class Summary:
    """What a run did. ``read`` counts records read from the inputs; ``kept`` the segmented ones."""

    read: int = 0
    kept: int = 0
    skipped: int = 0
    failed: int = 0
    input_errors: list[str] = field(default_factory=list)
    resumed_from: int = 0
    stories: int | None = None
    seconds: float = 0.0

    def count(self, status: str) -> None:
        self.read += 1
        if status == OK:
            self.kept += 1
        elif status == SKIPPED:
            self.skipped += 1
        elif status == FAILED:
            self.failed += 1

    def line(self) -> str:
        stories_part = f", {self.stories} stories" if self.stories is not None else ""
        resumed = f" (resumed after {self.resumed_from})" if self.resumed_from else ""
        return (f"read {self.read}, kept {self.kept}, skipped {self.skipped}, failed {self.failed}, "
                f"input errors {len(self.input_errors)}{stories_part}, {self.seconds:.1f} s{resumed}")


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides a run's output: a rerun must use the same, or it is a different run."""

    inputs: tuple[str, ...]
    dedup: bool = False
    timeout: float | None = 30.0
    dedup_config: dict | None = None

    def to_json(self) -> dict:
        return {"inputs": list(self.inputs), "dedup": self.dedup, "timeout": self.timeout,
                "dedup_config": self.dedup_config}


class Progress:
    """A one-line progress display on a terminal (records/s, skipped, failed); silent otherwise."""

    def __init__(self, stream=None, enabled: bool | None = None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.started = time.monotonic()
        self.last = 0.0

    def update(self, summary: Summary, force: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self.last < PROGRESS_INTERVAL):
            return
        self.last = now
        done = summary.read - summary.resumed_from
        rate = done / max(now - self.started, 1e-9)
        self.stream.write(f"\r{summary.read} records  {rate:.0f} rec/s  skipped {summary.skipped}  "
                          f"errors {summary.failed + len(summary.input_errors)}\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


# ---------------------------------------------------------------------------------------------
# the segment stage


def run(inputs: Iterable[str], out_dir: str, dedup: bool = False, workers: int = 1,
        timeout: float | None = 30.0, progress: Progress | None = None) -> Summary:
    """Run (or resume) the pipeline over ``inputs`` into ``out_dir``; return the summary."""
    config = RunConfig(tuple(inputs), dedup, timeout, stories.config_dict() if dedup else None)
    if not config.inputs:
        raise RunError("no inputs given")
    repeated = [uri for uri, count in Counter(config.inputs).items() if count > 1]
    if repeated:  # record ids are "<input>#<ordinal>": an input given twice would repeat them
        raise RunError(f"input given more than once: {repeated[0]}")
    os.makedirs(out_dir, exist_ok=True)
    summary_path = os.path.join(out_dir, SUMMARY_FILE)
    _check_same_run(out_dir, config)
    if os.path.exists(summary_path):
        with open(summary_path, encoding="utf-8") as handle:
            return Summary(**json.load(handle))
    started = time.perf_counter()
    progress = progress or Progress(enabled=False)
    summary = segment_stage(config, out_dir, workers, progress)
    if dedup:
        summary.stories = stories.cluster_file(os.path.join(out_dir, RECORDS_FILE), out_dir)
    write_articles(out_dir, dedup)
    summary.seconds = round(time.perf_counter() - started, 3)
    progress.close()
    _write_json(summary_path, asdict(summary))
    return summary


def segment_stage(config: RunConfig, out_dir: str, workers: int, progress: Progress) -> Summary:
    """Segment every record not yet in ``records.jsonl`` and append it there, in input order."""
    path = os.path.join(out_dir, RECORDS_FILE)
    summary = resume_counts(path)
    records = read_inputs(config.inputs, summary.input_errors)
    pending = itertools.islice(records, summary.resumed_from, None)
    signer = stories.signer() if config.dedup else None
    task = partial(_process_batch, signer=signer, timeout=config.timeout)
    if workers > 1:
        _load_model()
    with open(path, "a", encoding="utf-8") as out:
        for rows in map_batches(task, pending, workers):
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                summary.count(row["status"])
            out.flush()
            progress.update(summary)
        os.fsync(out.fileno())
    progress.update(summary, force=True)
    return summary


def resume_counts(path: str) -> Summary:
    """Counts of the complete lines already in ``path``; cuts a half-written last line off."""
    summary = Summary()
    if not os.path.exists(path):
        return summary
    _cut_partial_line(path)
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            summary.count(json.loads(line)["status"])
    summary.resumed_from = summary.read
    if summary.read:
        log.info("%s: resuming after %d records", path, summary.read)
    return summary


def _cut_partial_line(path: str) -> None:
    """Truncate ``path`` after its last newline (a kill can leave half a line behind)."""
    with open(path, "rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        keep = size
        while keep > 0:
            step = min(65536, keep)
            handle.seek(keep - step)
            chunk = handle.read(step)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep = keep - step + newline + 1
                break
            keep -= step
        if keep != size:
            handle.truncate(keep)


def _process_batch(batch: list[Record], signer=None, timeout: float | None = None) -> list[dict]:
    return list(process_records(batch, signer, timeout))


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Consecutive lists of ``size`` items (the last may be shorter)."""
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def map_batches(task: Callable[[list], list], items: Iterable, workers: int) -> Iterator[list]:
    """``task`` over batches of ``items``, results in input order, with a bounded window in flight.

    ``workers <= 1`` runs in this process (no pickling: the fastest single core). A worker process
    that dies (a segfault in a parser) fails only its own batch's records; the pool is rebuilt.
    """
    batches = batched(items, BATCH_SIZE)
    if workers <= 1:
        yield from map(task, batches)
        return
    window = workers * BATCHES_IN_FLIGHT_PER_WORKER
    # A caller that froze the collector itself keeps it frozen; else we undo our freeze at the end.
    frozen_by_us = gc.get_freeze_count() == 0
    pool = _new_pool(workers)
    in_flight: deque[tuple[list, futures.Future]] = deque()
    try:
        for batch in itertools.chain(batches, [None]):
            if batch is not None:
                in_flight.append((batch, pool.submit(task, batch)))
            while in_flight and (len(in_flight) >= window or batch is None):
                done_batch, future = in_flight.popleft()
                try:
                    yield future.result()
                except futures.process.BrokenProcessPool:
                    pool.shutdown(cancel_futures=True)
                    pool = _new_pool(workers)
                    yield [_crashed_row(record) for record in done_batch]
                    in_flight = deque((b, pool.submit(task, b)) for b, _ in in_flight)
    finally:
        pool.shutdown(cancel_futures=True)
        if frozen_by_us:  # the workers are gone: let this process collect its old objects again
            gc.unfreeze()


def _new_pool(workers: int) -> futures.ProcessPoolExecutor:
    """A pool whose forked workers keep sharing this process's memory while they run.

    The workers are forked (at the first submit) with everything this process holds: the imports
    and the model, ~110 MB shared copy-on-write. A full garbage collection in a worker walks every
    tracked object it inherited and writes to each object's GC header, so each worker gets its own
    copy of nearly every page holding Python objects (~30 MB each, measured): total memory stepped
    up mid-run, once enough objects had survived in a worker to trigger its first full collection
    (after ~1,800 records: never in a short run, always in a long one). ``gc.freeze()`` moves every
    object alive now to a permanent generation that no collection visits, in this process (whose
    own full collections would un-share the same pages from its side) and in the forked children,
    so the pages stay shared. Objects created after the fork are collected as usual; cyclic garbage
    alive at the freeze waits for ``map_batches`` to unfreeze. (The remedy the ``gc.freeze`` docs
    give for fork without exec.)
    """
    gc.freeze()
    return futures.ProcessPoolExecutor(workers, initializer=_warm_up)


def _crashed_row(record: Record) -> dict:
    from segmenter.batch.process import base_row

    row = base_row(record)
    row.update(status=FAILED, reason="worker process died")
    return row


def _load_model() -> None:
    """Load the model here, before the pool forks its workers: they inherit it (pages shared)
    instead of each reading the file (~0.01 s for the npz model; it was ~0.4 s of CPU apiece
    for the skops Pipeline). It is only loaded, never run, in this
    process: a prediction could start an OpenMP thread team, which does not survive a fork. A model
    that fails to load is left to the workers (their records fail with the reason)."""
    from segmenter.model import shipped_model

    try:
        shipped_model()
    except Exception:  # noqa: BLE001 - see above
        log.warning("the model did not load before the workers started", exc_info=True)


def _warm_up() -> None:
    """Worker start: follow the parent in death, then load the model before the first record
    (so that loading is not inside a document's time limit)."""
    from segmenter.engine import segment

    _exit_with_parent(os.getppid())

    try:
        segment("warm up\n\nthe segmenter model", "text")
    except Exception:  # noqa: BLE001 - a failure here shows up on the first real record
        pass


def _exit_with_parent(parent: int, interval: float = 1.0) -> None:
    """Exit this worker when its parent is gone (a kill -9 of the parent does not reach the pool:
    its workers would wait forever on a task queue whose write end they hold themselves)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


# ---------------------------------------------------------------------------------------------
# output


def write_articles(out_dir: str, dedup: bool) -> None:
    """``records.jsonl`` (+ story ids) -> ``articles.jsonl`` without signatures; atomic rename."""
    source = os.path.join(out_dir, RECORDS_FILE)
    target = os.path.join(out_dir, ARTICLES_FILE)
    lookup = stories.StoryLookup(out_dir) if dedup else None
    with open(source, encoding="utf-8") as rows, open(target + ".tmp", "w", encoding="utf-8") as out:
        for order, line in enumerate(rows):
            row = json.loads(line)
            if lookup is not None:
                row["story_id"] = lookup.story_of(order, row)
            row.pop("signature", None)
            row.pop("shingles", None)
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    if lookup is not None:
        lookup.close()
    os.replace(target + ".tmp", target)


def _check_same_run(out_dir: str, config: RunConfig) -> None:
    path = os.path.join(out_dir, RUN_FILE)
    if not os.path.exists(path):
        if os.path.exists(os.path.join(out_dir, RECORDS_FILE)):
            raise RunError(f"{out_dir} holds records of an unknown run: use an empty --out folder")
        _write_json(path, config.to_json())
        return
    with open(path, encoding="utf-8") as handle:
        previous = json.load(handle)
    if previous != json.loads(json.dumps(config.to_json())):
        changed = sorted(k for k in previous if previous.get(k) != config.to_json().get(k))
        raise RunError(f"{out_dir} holds a different run (changed: {', '.join(changed)}); "
                       "rerun with the same inputs and options, or use another --out folder")


def _write_json(path: str, obj: dict) -> None:
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(obj, handle, indent=1)
        handle.write("\n")
    os.replace(path + ".tmp", path)


def status_counts(rows: Iterable[dict]) -> Counter:
    """How many rows have each status (used by tests and the benchmark)."""
    return Counter(row["status"] for row in rows)
