"""Prometheus metrics, written as the plain text exposition format (no client library needed).

What is counted: requests by endpoint, method and status; a latency histogram by endpoint; documents
ingested (by outcome); stories created; segmentations that hit their time limit.

Several gunicorn workers: each worker process counts in memory and, when ``METRICS_DIR`` is set
(``segmenter serve`` always sets it), a background thread writes its counts to
``METRICS_DIR/<pid>.json`` every :data:`FLUSH_SECONDS` when they changed. ``/metrics`` adds up every
file in the folder (its own worker's counts live), so one scrape shows the whole server whichever
worker answers it, other workers at most :data:`FLUSH_SECONDS` stale. Writing in the background keeps
file I/O off the requests (a replace-by-rename on ext4 can cost milliseconds: it flushes data).
Files of workers that exited stay, so counters never go backwards (the rule of prometheus_client's
multiprocess mode); the folder is emptied when the server starts. Without ``METRICS_DIR`` the
numbers are per process.
"""
from __future__ import annotations

import json
import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator

from flask import Flask, Response, current_app, g, request

# Seconds; chosen around the service targets (p99 50 ms for /v1/segment, 100 ms for /v1/stories)
# so the histogram resolves the interesting range, plus the 1 s error-path bound and slow tails.
FLUSH_SECONDS = 0.5
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# name -> (help, label names) for the plain counters.
COUNTERS = {
    "segmenter_documents_ingested_total": (
        "Documents accepted by POST /v1/stories, by whether they founded a story.", ("result",)),
    "segmenter_stories_created_total": ("Stories founded by an ingested document.", ()),
    "segmenter_segmentation_timeouts_total": ("Segmentations stopped by the per-request time limit.", ()),
}
REQUESTS = "segmenter_http_requests_total"
LATENCY = "segmenter_http_request_duration_seconds"
PROCESSES = "segmenter_metrics_processes"


class Metrics:
    """The counters of one process, optionally shared with sibling processes through a folder."""

    def __init__(self, directory: str | None = None) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self._latency: dict[str, list[float]] = {}  # endpoint -> bucket counts + [count, sum]
        self._counters: dict[str, dict[tuple[str, ...], int]] = {name: defaultdict(int) for name in COUNTERS}
        self._changes = 0  # bumped on every update; the flusher writes when it moved
        self._flusher: threading.Thread | None = None

    def observe_request(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        """Count one finished request and its latency."""
        with self._lock:
            self._requests[(endpoint, method, str(status))] += 1
            row = self._latency.setdefault(endpoint, [0.0] * (len(LATENCY_BUCKETS) + 2))
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    row[i] += 1
                    break
            row[-2] += 1
            row[-1] += seconds
            self._changes += 1

    def inc(self, name: str, labels: tuple[str, ...] = (), amount: int = 1) -> None:
        """Add ``amount`` to the counter ``name`` (one of :data:`COUNTERS`)."""
        with self._lock:
            self._counters[name][labels] += amount
            self._changes += 1

    def snapshot(self) -> dict:
        """This process's counts as plain JSON-able data."""
        with self._lock:
            return {
                "requests": [[*key, n] for key, n in self._requests.items()],
                "latency": {endpoint: list(row) for endpoint, row in self._latency.items()},
                "counters": {name: [[*labels, n] for labels, n in values.items()]
                             for name, values in self._counters.items()},
            }

    def start_flusher(self, interval: float = FLUSH_SECONDS) -> None:
        """Write this process's counts every ``interval`` seconds when they changed (daemon thread)."""
        if not self.directory or (self._flusher is not None and self._flusher.is_alive()):
            return  # (a thread of a parent process is not alive after a fork: start our own)

        def run() -> None:
            written = -1
            while True:
                time.sleep(interval)
                if self._changes != written:
                    written = self._changes
                    try:
                        self.flush()
                    except OSError:
                        pass  # a full or removed folder must not kill the flusher; next round retries

        with self._lock:
            if self._flusher is not None and self._flusher.is_alive():
                return
            self._flusher = threading.Thread(target=run, name="metrics-flusher", daemon=True)
            self._flusher.start()

    def flush(self) -> None:
        """Write this process's snapshot to the shared folder (atomically), if there is one."""
        if not self.directory:
            return
        path = os.path.join(self.directory, f"{os.getpid()}.json")
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(self.snapshot(), fh)
        os.replace(tmp, path)

    def process_snapshots(self) -> list[dict]:
        """Snapshots of every process sharing the folder, this one live."""
        snapshots = [self.snapshot()]
        if not self.directory:
            return snapshots
        own = f"{os.getpid()}.json"
        for name in sorted(os.listdir(self.directory)):
            if name.endswith(".json") and name != own:
                try:
                    with open(os.path.join(self.directory, name), encoding="utf-8") as fh:
                        snapshots.append(json.load(fh))
                except (OSError, ValueError):
                    continue  # replaced or half-written right now: skip it for this scrape
        return snapshots

    def render(self, gauges: Iterable[tuple[str, str, float]] = ()) -> str:
        """The Prometheus text exposition of all processes, plus ``(name, help, value)`` gauges."""
        snapshots = self.process_snapshots()
        merged = merge(snapshots)
        lines = [f"# HELP {PROCESSES} Worker processes whose counts are included.",
                 f"# TYPE {PROCESSES} gauge", f"{PROCESSES} {len(snapshots)}"]
        lines += _render_requests(merged)
        lines += _render_latency(merged)
        lines += _render_counters(merged)
        for name, help_text, value in gauges:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {_number(value)}"]
        return "\n".join(lines) + "\n"


def merge(snapshots: list[dict]) -> dict:
    """Add up several process snapshots."""
    requests: dict[tuple, int] = defaultdict(int)
    latency: dict[str, list[float]] = {}
    counters: dict[str, dict[tuple, int]] = {name: defaultdict(int) for name in COUNTERS}
    for snap in snapshots:
        for *key, n in snap.get("requests", []):
            requests[tuple(key)] += n
        for endpoint, row in snap.get("latency", {}).items():
            total = latency.setdefault(endpoint, [0.0] * len(row))
            for i, value in enumerate(row):
                total[i] += value
        for name, rows in snap.get("counters", {}).items():
            for *labels, n in rows:
                counters.setdefault(name, defaultdict(int))[tuple(labels)] += n
    return {"requests": requests, "latency": latency, "counters": counters}


def _render_requests(merged: dict) -> Iterator[str]:
    yield f"# HELP {REQUESTS} HTTP requests by endpoint, method and status."
    yield f"# TYPE {REQUESTS} counter"
    for (endpoint, method, status), n in sorted(merged["requests"].items()):
        yield f"{REQUESTS}{_labels(endpoint=endpoint, method=method, status=status)} {n}"


def _render_latency(merged: dict) -> Iterator[str]:
    yield f"# HELP {LATENCY} Time from request start to response, by endpoint."
    yield f"# TYPE {LATENCY} histogram"
    for endpoint, row in sorted(merged["latency"].items()):
        cumulative = 0.0
        for bound, n in zip(LATENCY_BUCKETS, row, strict=False):
            cumulative += n
            yield f"{LATENCY}_bucket{_labels(endpoint=endpoint, le=_number(bound))} {_number(cumulative)}"
        yield f"{LATENCY}_bucket{_labels(endpoint=endpoint, le='+Inf')} {_number(row[-2])}"
        yield f"{LATENCY}_sum{_labels(endpoint=endpoint)} {row[-1]:.6f}"
        yield f"{LATENCY}_count{_labels(endpoint=endpoint)} {_number(row[-2])}"


def _render_counters(merged: dict) -> Iterator[str]:
    for name, (help_text, label_names) in COUNTERS.items():
        yield f"# HELP {name} {help_text}"
        yield f"# TYPE {name} counter"
        values = merged["counters"].get(name, {})
        if not values and not label_names:
            yield f"{name} 0"
        for labels, n in sorted(values.items()):
            yield f"{name}{_labels(**dict(zip(label_names, labels, strict=True)))} {n}"


def _labels(**labels: str) -> str:
    if not labels:
        return ""
    body = ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items())
    return "{" + body + "}"


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def current_metrics() -> Metrics:
    """The metrics of the running app."""
    return current_app.extensions["segmenter.metrics"]


def _start_timer() -> None:
    g.request_started = time.perf_counter()


def _record(response: Response) -> Response:
    started = g.pop("request_started", None)
    if started is None:
        return response
    metrics = current_metrics()
    # The route pattern, not the path: /v1/stories/<story_id> is one series, and unknown paths
    # (404s) share one label instead of minting a series per URL a scanner tries.
    endpoint = request.url_rule.rule if request.url_rule else "unmatched"
    metrics.observe_request(endpoint, request.method, response.status_code, time.perf_counter() - started)
    if metrics.directory:
        metrics.start_flusher()  # first request of this process (after any fork)
    return response


def init_app(app: Flask) -> None:
    """Create the app's metrics and time every request."""
    directory = app.config.get("METRICS_DIR") or None
    if directory:
        os.makedirs(directory, exist_ok=True)
    app.extensions["segmenter.metrics"] = Metrics(directory)
    app.before_request(_start_timer)
    app.after_request(_record)
