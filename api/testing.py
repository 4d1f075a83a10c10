"""A real server for integration tests and benchmarks: ``segmenter serve`` in a subprocess.

``LiveServer`` picks a free port on 127.0.0.1, starts gunicorn through the real command line, waits
for ``/readyz`` and stops the server (SIGTERM to its own process, then SIGKILL) on exit.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import IO, Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """``segmenter serve`` on 127.0.0.1 as a context manager."""

    def __init__(self, store: str, workers: int = 2, extra_args: tuple[str, ...] = (),
                 env: dict[str, str] | None = None, log: IO[bytes] | None = None,
                 startup_timeout: float = 120.0) -> None:
        self.store = store
        self.workers = workers
        self.extra_args = extra_args
        self.env = env
        self.log = log
        self.startup_timeout = startup_timeout
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        """Start the server and wait until it answers ``/readyz`` with 200."""
        self.port = free_port()
        command = [sys.executable, "-m", "segmenter", "serve", "--bind", f"127.0.0.1:{self.port}",
                   "--workers", str(self.workers), "--store", self.store, *self.extra_args]
        env = {**os.environ, **(self.env or {})}
        self.process = subprocess.Popen(command, env=env, stdout=self.log or subprocess.DEVNULL,
                                        stderr=self.log or subprocess.DEVNULL)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with code {self.process.returncode} while starting")
            try:
                if self.request("GET", "/readyz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server not ready after {self.startup_timeout} s")

    def stop(self) -> None:
        """SIGTERM (gunicorn's graceful stop), then SIGKILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None,
                timeout: float = 120) -> tuple[int, bytes]:
        """One request; returns (status, body) for any status, raises only on network errors."""
        headers = {"Content-Type": content_type} if content_type else {}
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def json(self, method: str, path: str, payload: Any = None, timeout: float = 120) -> tuple[int, Any]:
        """A JSON request and its decoded JSON answer."""
        body = None if payload is None else json.dumps(payload).encode()
        status, data = self.request(method, path, body, "application/json" if body else None, timeout)
        return status, json.loads(data)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
