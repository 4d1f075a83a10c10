"""HTTP API throughput and latency on the real server, next to a trivial echo endpoint.

    python benchmarks/api.py [--workers 2] [--clients 8] [--requests 150]
    python benchmarks/api.py --quick        # 40 requests per client: a rough check in ~15 s

Starts ``segmenter serve`` (gunicorn sync workers, a fresh temporary SQLite store, benchmark mode so
that ``POST /v1/echo`` exists) on 127.0.0.1, then runs four workloads one after the other, each
from ``--clients`` concurrent client threads sending ``--requests`` requests apiece. The clients
share the machine with the server, so they are kept cheap: each thread writes prepared request
bytes to a socket and reads the answer by its Content-Length (``Client``), reusing the connection
when the server keeps it open (sync workers close it after each response, so here every request
connects anew); ``http.client`` costs about twice the CPU per request, mostly parsing headers.

* ``POST /v1/echo``: the same ~10 KB body sent back; the cost of gunicorn, Flask, the clients.
* ``POST /v1/segment``: a ~10 KB real page dump (scrapinghub page closest to 10 KB when
  ``../shared`` is there, else the repository's fixture page repeated to ~10 KB).
* ``POST /v1/stories``: real page dumps (scrapinghub pages of 2-20 KB, else the fixture page),
  each request with its own url, so each is segmented and adds a document.
* ``POST /v1/stories`` with ``"segmented": false``: the same pages' article bodies as JSON, so
  the row measures HTTP and the shared SQLite store without the model.

"lost" compares the documents the store holds afterwards (``/metrics``) with the 200 answers of
both stories rows. One table: requests/s, p50/p99 latency (ms, client side), errors, throughput
relative to echo in the same run, the CPU per request of the server's workers and of the clients,
and the issue's targets; below it, the CPU cost of one in-process ``segment()`` of the same page,
which bounds what any server can do with this model. Everything runs on this machine: server and
clients share its cores, so the echo row is the ceiling of this setup, not of the server alone.
"""
from __future__ import annotations

import argparse
import gzip
import json
import socket
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
    client_cpu: float = 0.0  # CPU seconds this process (the client threads) spent on it

    @property
    def cpu_ms(self) -> float:
        return self.server_cpu / self.requests * 1000

    @property
    def client_cpu_ms(self) -> float:
        return self.client_cpu / self.requests * 1000

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


class Client:
    """A minimal HTTP/1.1 client on one connection to 127.0.0.1, reopened when the server closes it.

    Only what this benchmark needs (answers with a Content-Length, or ending at the close), so that
    the load generator takes as little as possible of the CPU it shares with the server.
    """

    def __init__(self, port: int, timeout: float = 60.0) -> None:
        self.port = port
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.pending = b""  # bytes received past the end of the last answer

    def request(self, method: str, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
        """Send one request; return (status, body)."""
        head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
        reused = self.sock is not None
        try:
            return self._exchange(head + body)
        except (ConnectionError, EOFError):
            self.close()
            if not reused:
                raise
        # A kept-alive connection the server closed meanwhile: the request was not read; resend.
        return self._exchange(head + body)

    def _exchange(self, data: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.pending = b""
        self.sock.sendall(data)
        buffer = self.pending
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            buffer += self._recv()
        lines = buffer[:end].split(b"\r\n")
        status = int(lines[0].split(None, 2)[1])
        length, close = None, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        body = buffer[end + 4:]
        if length is None:  # the body ends when the server closes the connection
            while chunk := self.sock.recv(1 << 16):
                body += chunk
            length, close = len(body), True
        while len(body) < length:
            body += self._recv()
        self.pending = body[length:]
        if close:
            self.close()
        return status, body[:length]

    def _recv(self) -> bytes:
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise EOFError("connection closed before the whole answer arrived")
        return chunk

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def one_request(port: int, method: str, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    """One request on a connection of its own."""
    client = Client(port)
    try:
        return client.request(method, path, body, content_type)
    finally:
        client.close()


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

    # Requests are built before the clock starts: the clients then only send and receive.
    requests = [[make_request(k * per_client + j) for j in range(per_client)] for k in range(clients)]

    def client(k: int) -> None:
        mine, bad = [], 0
        connection = Client(port)
        start_gate.wait()
        for method, path, body, content_type in requests[k]:
            started = time.perf_counter()
            status, _ = connection.request(method, path, body, content_type)
            mine.append(time.perf_counter() - started)
            bad += status != 200
        connection.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    cpu_before = workers_cpu(server_pid)
    start_gate.wait()
    started, client_cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.join()
    elapsed, client_cpu = time.perf_counter() - started, time.process_time() - client_cpu
    cpu = workers_cpu(server_pid) - cpu_before
    return Result(name, clients * per_client, elapsed, latencies, errors[0], cpu, client_cpu)


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
    parser.add_argument("--quick", action="store_true", help="40 requests per client per workload")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests = 40
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
             f"{'errors':>6} | {'lost':>4} | {'vs echo':>7} | {'CPU ms/req':>10} | {'client CPU':>10} | target |"
    print(header)
    print("|" + "|".join("-" * len(cell) for cell in header.split("|")[1:-1]) + "|")
    for r in results:
        lost_cell = str(lost) if r.name.startswith("stories") else "-"
        print(f"| {'/v1/' + r.name:<27} | {r.requests:>8} | {r.rate:>7.0f} | {r.percentile(0.5):>7.1f} | "
              f"{r.percentile(0.99):>7.1f} | {r.errors:>6} | {lost_cell:>4} | {r.rate / echo.rate:>7.2f} | "
              f"{r.cpu_ms:>10.2f} | {r.client_cpu_ms:>10.2f} | {TARGETS[r.name]} |")
    ceiling = args.workers * 1000 / cpu_ms
    print(f"CPU ms/req: worker-process CPU per request (server side, whatever else runs on the machine); "
          f"client CPU: the load generator's, on the same cores. segment() in-process on the same page: "
          f"{cpu_ms:.1f} ms CPU, so {args.workers} workers can do at most {ceiling:.0f} req/s on idle "
          f"cores. 'lost': 200 answers of /v1/stories without a stored document (both stories rows).")


if __name__ == "__main__":
    sys.exit(main())
