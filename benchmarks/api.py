"""HTTP API throughput and latency on the real server, next to a trivial echo endpoint.

    python benchmarks/api.py [--workers 2] [--clients 8] [--requests 150]

Starts ``segmenter serve`` (gunicorn sync workers, a fresh temporary SQLite store, benchmark mode so
that ``POST /v1/echo`` exists) on 127.0.0.1, then runs three workloads one after the other, each
from ``--clients`` concurrent client threads sending ``--requests`` requests apiece (a new
connection per request: sync workers close it after each response):

* ``POST /v1/echo``: the same ~10 KB body sent back; the cost of gunicorn, Flask, the clients.
* ``POST /v1/segment``: a ~10 KB real page dump (scrapinghub page closest to 10 KB when
  ``../shared`` is there, else the repository's fixture page repeated to ~10 KB).
* ``POST /v1/stories``: real page dumps (scrapinghub pages of 2-20 KB, else the fixture page),
  each request with its own url, so each is segmented and adds a document.
* ``POST /v1/stories`` with ``"segmented": false``: the same pages' article bodies as JSON, so
  the row measures HTTP and the shared SQLite store without the model.

"lost" compares the documents the store holds afterwards (``/metrics``) with the 200 answers of
both stories rows. One table: requests/s, p50/p99 latency (ms, client side), errors, throughput
relative to echo in the same run, and the issue's targets; below it, the CPU cost of one
in-process ``segment()`` of the same page, which bounds what any server can do with this model.
Everything runs on this machine: server and clients share its cores.
"""
from __future__ import annotations

import argparse
import gzip
import http.client
import json
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402  (the bench and test extras)

from api.testing import LiveServer  # noqa: E402

SCRAPINGHUB = ROOT.parent / "shared" / "corpora" / "segmentation" / "scrapinghub" / "pages.jsonl.gz"
FIXTURE = ROOT / "tests" / "fixtures" / "page-dump.txt"
TARGET_BYTES = 10 * 1024
TARGETS = {"echo": "baseline", "segment": ">= 300 req/s, p99 <= 50 ms",
           "stories": ">= 200 req/s, p99 <= 100 ms, 0 lost",
           "stories (article)": "(same; segmented: false, store and HTTP only)"}


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    latencies: list[float]
    errors: int
    server_cpu: float = 0.0  # CPU seconds the worker processes spent on this workload

    @property
    def cpu_ms(self) -> float:
        return self.server_cpu / self.requests * 1000

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


def workers_cpu(server_pid: int) -> float:
    """CPU seconds used so far by the server's worker processes (the master only supervises)."""
    total = 0.0
    for child in psutil.Process(server_pid).children():
        times = child.cpu_times()
        total += times.user + times.system
    return total


def run_load(name: str, server_pid: int, port: int, clients: int, per_client: int, make_request) -> Result:
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
    cpu_before = workers_cpu(server_pid)
    start_gate.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    cpu = workers_cpu(server_pid) - cpu_before
    return Result(name, clients * per_client, elapsed, latencies, errors[0], cpu)


def article_pages(port: int, pages: list[bytes]) -> list[tuple[bytes, str]]:
    """(page, its article body) for the pages the segmenter finds an article in (an index page
    would be refused by /v1/stories)."""
    keep = []
    for page in pages:
        status, body = one_request(port, "POST", "/v1/segment", page, "text/plain; charset=utf-8")
        if status == 200 and json.loads(body)["kind"] == "article":
            keep.append((page, json.loads(body)["body"]))
    return keep


def segment_cpu_ms(page: bytes, rounds: int = 20) -> float:
    """CPU milliseconds of one in-process ``segment()`` of ``page`` (one thread, model loaded)."""
    from threadpoolctl import threadpool_limits

    from segmenter import segment

    with threadpool_limits(1):
        segment(page, "text")
        started = time.process_time()
        for _ in range(rounds):
            segment(page, "text")
        return (time.process_time() - started) / rounds * 1000


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
    cpu_ms = segment_cpu_ms(page)
    with tempfile.TemporaryDirectory() as tmp:
        with LiveServer(str(Path(tmp) / "stories.sqlite3"), workers=args.workers,
                        extra_args=("--benchmark-echo",)) as server:
            articles = article_pages(server.port, ingest_pages) or [(page, page.decode("utf-8"))]
            results = run_workloads(server, page, articles, args.clients, args.requests)
            stored = store_documents(server.port)
    ingested = sum(r.requests - r.errors for r in results[2:])
    print_table(results, ingested - stored, args, len(page), origin, len(articles), cpu_ms)
    return 0


def run_workloads(server: LiveServer, page: bytes, articles: list[tuple[bytes, str]], clients: int,
                  per_client: int) -> list[Result]:
    """echo, segment, stories (raw pages), stories (articles, segmented: false), in this order."""
    port = server.port
    text = "text/plain; charset=utf-8"
    for _ in range(20):  # warm both workers' code paths
        one_request(port, "POST", "/v1/segment", page, text)
        one_request(port, "POST", "/v1/echo", page, text)

    def ingest_page(i: int) -> tuple[str, str, bytes, str]:
        fields = urllib.parse.urlencode({"url": f"https://bench.example/page/{i}", "source": f"feed{i % 9}"})
        return "POST", f"/v1/stories?{fields}", articles[i % len(articles)][0], text

    def ingest_article(i: int) -> tuple[str, str, bytes, str]:
        doc = {"text": articles[i % len(articles)][1], "url": f"https://bench.example/article/{i}",
               "source": f"feed{i % 9}", "segmented": False}
        return "POST", "/v1/stories", json.dumps(doc).encode(), "application/json"

    load = (server.process.pid, port, clients, per_client)
    return [run_load("echo", *load, lambda i: ("POST", "/v1/echo", page, text)),
            run_load("segment", *load, lambda i: ("POST", "/v1/segment", page, text)),
            run_load("stories", *load, ingest_page),
            run_load("stories (article)", *load, ingest_article)]


def print_table(results: list[Result], lost: int, args: argparse.Namespace, page_bytes: int,
                origin: str, ingest_pages: int, cpu_ms: float) -> None:
    echo = results[0]
    print(f"API benchmark: {args.workers} gunicorn sync workers, {args.clients} concurrent clients, "
          f"{args.requests} requests per client per endpoint; pages from {origin} "
          f"(segment page {page_bytes / 1024:.1f} KB, {ingest_pages} distinct pages for ingest)")
    header = f"| {'endpoint':<27} | {'requests':>8} | {'req/s':>7} | {'p50 ms':>7} | {'p99 ms':>7} | " \
             f"{'errors':>6} | {'lost':>4} | {'vs echo':>7} | {'CPU ms/req':>10} | target |"
    print(header)
    print("|" + "|".join("-" * len(cell) for cell in header.split("|")[1:-1]) + "|")
    for r in results:
        lost_cell = str(lost) if r.name.startswith("stories") else "-"
        print(f"| {'/v1/' + r.name:<27} | {r.requests:>8} | {r.rate:>7.0f} | {r.percentile(0.5):>7.1f} | "
              f"{r.percentile(0.99):>7.1f} | {r.errors:>6} | {lost_cell:>4} | {r.rate / echo.rate:>7.2f} | "
              f"{r.cpu_ms:>10.1f} | {TARGETS[r.name]} |")
    ceiling = args.workers * 1000 / cpu_ms
    print(f"CPU ms/req: worker-process CPU per request (server side, whatever else runs on the machine). "
          f"segment() in-process on the same page: {cpu_ms:.1f} ms CPU, so {args.workers} workers can do "
          f"at most {ceiling:.0f} req/s on idle cores. 'lost': 200 answers of /v1/stories without a "
          f"stored document (both stories rows).")


if __name__ == "__main__":
    sys.exit(main())
