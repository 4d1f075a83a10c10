"""HTTP API throughput and latency on the real server, next to a trivial echo endpoint.

    python benchmarks/api.py [--workers 2] [--clients 8] [--requests 150]

Starts ``segmenter serve`` (gunicorn sync workers, a fresh temporary SQLite store, benchmark mode so
that ``POST /v1/echo`` exists) on 127.0.0.1, then runs three workloads one after the other, each
from ``--clients`` concurrent client threads sending ``--requests`` requests apiece (a new
connection per request: sync workers close it after each response):

* ``POST /v1/echo``: the same ~10 KB body sent back; the cost of gunicorn, Flask, the clients.
* ``POST /v1/segment``: a ~10 KB real page dump (scrapinghub page closest to 10 KB when
  ``../shared`` is there, else the repository's fixture page repeated to ~10 KB).
* ``POST /v1/stories``: real page dumps (scrapinghub pages of 2-20 KB, else fixture variants),
  each request with its own url, so each adds a document; "lost" compares the documents the
  store holds afterwards (``/metrics``) with the 200 answers.

One table: requests/s, p50/p99 latency (ms, client side), errors, throughput relative to echo in
the same run, and the issue's targets. Everything runs on this machine: server and clients share
its cores, as they would for a sidecar deployment.
"""
from __future__ import annotations

import argparse
import gzip
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.testing import LiveServer  # noqa: E402

SCRAPINGHUB = ROOT.parent / "shared" / "corpora" / "segmentation" / "scrapinghub" / "pages.jsonl.gz"
FIXTURE = ROOT / "tests" / "fixtures" / "page-dump.txt"
TARGET_BYTES = 10 * 1024
TARGETS = {"echo": "baseline", "segment": ">= 300 req/s, p99 <= 50 ms",
           "stories": ">= 200 req/s, p99 <= 100 ms, 0 lost"}


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def load_pages() -> tuple[bytes, list[bytes], str]:
    """(the ~10 KB page, pages for ingest, where they came from)."""
    if SCRAPINGHUB.exists():
        with gzip.open(SCRAPINGHUB, "rt", encoding="utf-8") as fh:
            dumps = [json.loads(line)["text_dump"].encode("utf-8") for line in fh]
        page = min(dumps, key=lambda d: abs(len(d) - TARGET_BYTES))
        return page, [d for d in dumps if 2048 <= len(d) <= 20480], "scrapinghub text dumps"
    fixture = FIXTURE.read_bytes()
    page = (fixture + b"\n") * max(1, round(TARGET_BYTES / len(fixture)))
    return page, [fixture], "tests/fixtures/page-dump.txt"


def one_request(port: int, method: str, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body, {"Content-Type": content_type})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def run_load(name: str, port: int, clients: int, per_client: int, make_request) -> Result:
    """``clients`` threads, each sending ``per_client`` requests made by ``make_request(i)``."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    start_gate = threading.Barrier(clients + 1)

    def client(k: int) -> None:
        mine, bad = [], 0
        start_gate.wait()
        for j in range(per_client):
            method, path, body, content_type = make_request(k * per_client + j)
            started = time.perf_counter()
            status, _ = one_request(port, method, path, body, content_type)
            mine.append(time.perf_counter() - started)
            bad += status != 200
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    start_gate.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return Result(name, clients * per_client, time.perf_counter() - started, latencies, errors[0])


def article_pages(port: int, pages: list[bytes]) -> list[bytes]:
    """The pages the segmenter finds an article in (an index page would be refused by /v1/stories)."""
    keep = []
    for page in pages:
        status, body = one_request(port, "POST", "/v1/segment", page, "text/plain; charset=utf-8")
        if status == 200 and json.loads(body)["kind"] == "article":
            keep.append(page)
    return keep


def store_documents(port: int) -> int:
    _, body = one_request(port, "GET", "/metrics", b"", "text/plain")
    for line in body.decode().splitlines():
        if line.startswith("segmenter_store_documents "):
            return int(float(line.split()[1]))
    return -1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=150, help="requests per client per workload")
    args = parser.parse_args(argv)
    page, ingest_pages, origin = load_pages()
    with tempfile.TemporaryDirectory() as tmp:
        with LiveServer(str(Path(tmp) / "stories.sqlite3"), workers=args.workers,
                        extra_args=("--benchmark-echo",)) as server:
            port = server.port
            ingest_pages = article_pages(port, ingest_pages) or [page]
            text = "text/plain; charset=utf-8"
            for _ in range(20):  # warm both workers' code paths
                one_request(port, "POST", "/v1/segment", page, text)
                one_request(port, "POST", "/v1/echo", page, text)
            load = (args.clients, args.requests)
            results = [
                run_load("echo", port, *load, lambda i: ("POST", "/v1/echo", page, text)),
                run_load("segment", port, *load, lambda i: ("POST", "/v1/segment", page, text)),
            ]

            def ingest(i: int) -> tuple[str, str, bytes, str]:
                fields = {"url": f"https://bench.example/{i}", "source": f"feed{i % 9}"}
                query = urllib.parse.urlencode(fields)
                return "POST", f"/v1/stories?{query}", ingest_pages[i % len(ingest_pages)], text

            results.append(run_load("stories", port, *load, ingest))
            stored = store_documents(port)
    stories = results[2]
    lost = (stories.requests - stories.errors) - stored
    print_table(results, lost, args, len(page), origin, len(ingest_pages))
    return 0


def print_table(results: list[Result], lost: int, args: argparse.Namespace, page_bytes: int,
                origin: str, ingest_pages: int) -> None:
    echo = results[0]
    print(f"API benchmark: {args.workers} gunicorn sync workers, {args.clients} concurrent clients, "
          f"{args.requests} requests per client per endpoint; pages from {origin} "
          f"(segment page {page_bytes / 1024:.1f} KB, {ingest_pages} distinct pages for ingest)")
    header = f"| {'endpoint':<14} | {'requests':>8} | {'req/s':>7} | {'p50 ms':>7} | {'p99 ms':>7} | " \
             f"{'errors':>6} | {'lost':>4} | {'vs echo':>7} | target"
    print(header)
    print("|" + "|".join("-" * (len(cell) + 0) for cell in header.split("|")[1:-1]) + "|---")
    for r in results:
        lost_cell = str(lost) if r.name == "stories" else "-"
        print(f"| {'/v1/' + r.name:<14} | {r.requests:>8} | {r.rate:>7.0f} | {r.percentile(0.5):>7.1f} | "
              f"{r.percentile(0.99):>7.1f} | {r.errors:>6} | {lost_cell:>4} | {r.rate / echo.rate:>7.2f} | "
              f"{TARGETS[r.name]}")
    print("mean latency ms: " + ", ".join(f"{r.name} {statistics.mean(r.latencies) * 1000:.1f}"
                                          for r in results))


if __name__ == "__main__":
    sys.exit(main())
