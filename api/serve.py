"""``segmenter serve``: run the HTTP API under gunicorn, the production server.

The same as ``gunicorn --workers N --bind HOST:PORT 'api:create_app()'``, plus the settings of the
command line and a metrics folder shared by the workers. Workers are gunicorn's sync workers: one
request at a time on the worker's main thread, which is what lets the segmentation deadline
interrupt a pathological page (see ``api.deadline``) with a signal timer (~5 us a request, no
thread). The master imports the app's modules and loads the model before it forks (``preload``);
each worker then builds its own app, so the SQLite store is opened once per worker process, after
the fork (never shared across it).
"""
from __future__ import annotations

import argparse
import gc
import glob
import logging
import os
import shutil
import tempfile
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``segmenter serve`` to the command line."""
    p = subparsers.add_parser("serve", help="run the HTTP API (gunicorn, N worker processes)")
    p.add_argument("--bind", default="127.0.0.1:8000", help="HOST:PORT to listen on (default %(default)s)")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default %(default)s)")
    p.add_argument("--store", help="SQLite story store (default: $SEGMENTER_STORE_PATH or "
                                   "instance/stories.sqlite3)")
    p.add_argument("--max-body", type=int, help="largest request body in bytes (default 5 MB)")
    p.add_argument("--segment-timeout", type=float, help="seconds one segmentation may take (default 2)")
    p.add_argument("--timeout", type=int, default=30,
                   help="seconds before gunicorn kills a stuck worker: the last resort (default %(default)s)")
    p.add_argument("--metrics-dir", help="folder the workers share their metrics through "
                                         "(default: a fresh temporary folder)")
    p.add_argument("--access-log", action="store_true", help="log every request to stderr")
    p.add_argument("--benchmark-echo", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=run_serve)


def app_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The app settings the command line gives (those left out keep env or default values)."""
    overrides = {"STORE_PATH": args.store, "MAX_CONTENT_LENGTH": args.max_body,
                 "SEGMENT_TIMEOUT": args.segment_timeout, "METRICS_DIR": args.metrics_dir,
                 "BENCHMARK_ECHO": True if args.benchmark_echo else None}
    return {key: value for key, value in overrides.items() if value is not None}


def run_serve(args: argparse.Namespace) -> int:
    """Start gunicorn and serve until it is stopped (SIGINT/SIGTERM)."""
    from segmenter.cli import CLIError

    if args.workers < 1:
        raise CLIError("--workers must be at least 1")
    overrides = app_overrides(args)
    own_metrics_dir = "METRICS_DIR" not in overrides and not os.environ.get("SEGMENTER_METRICS_DIR")
    if own_metrics_dir:
        # tmpfs when there is one: the workers rewrite their files twice a second.
        shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        overrides["METRICS_DIR"] = tempfile.mkdtemp(prefix="segmenter-metrics-", dir=shm)
    metrics_dir = overrides.get("METRICS_DIR") or os.environ["SEGMENTER_METRICS_DIR"]
    _clear_metrics(metrics_dir)
    options = {"bind": args.bind, "workers": args.workers, "worker_class": "sync", "timeout": args.timeout,
               "accesslog": "-" if args.access_log else None, "errorlog": "-", "proc_name": "segmenter"}
    preload()
    try:
        GunicornServer(options, overrides).run()
    finally:
        if own_metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def preload() -> None:
    """Import the app and load the model in the master, before gunicorn forks the workers.

    A worker then starts with both in memory (pages shared with its siblings until written) instead
    of spending ~0.2 s on imports and the model file (~1.5 s while the model loaded through
    scikit-learn and skops), which matters most when gunicorn replaces a
    worker it killed (``--timeout``) while the others carry the load. Nothing that must not cross a
    fork is made here: each worker opens its own SQLite store in ``create_app``, and the model is
    only loaded, not run (a prediction could start an OpenMP thread team, which does not survive a
    fork); workers warm it up themselves. A model that fails to load here is left to the workers,
    which report it on ``/readyz``.
    """
    from api import errors, metrics, services  # noqa: F401  (Flask, numpy, lxml ...)
    from api.routes import dedup, health, segment, stories  # noqa: F401
    from segmenter.model import shipped_model

    try:
        shipped_model()
    except Exception:  # noqa: BLE001 - the workers retry and report it
        log.warning("the model did not load before the fork; each worker will try", exc_info=True)
    # Keep what was loaded shared after the fork: a worker's first full garbage collection would
    # otherwise write to every inherited object's header and copy ~30 MB of pages per worker
    # (measured in the batch pool, which does the same; see segmenter/batch/run.py).
    gc.freeze()


def _clear_metrics(directory: str) -> None:
    # Counts of an earlier server run must not be added to this one's.
    os.makedirs(directory, exist_ok=True)
    for path in glob.glob(os.path.join(directory, "*.json")):
        os.remove(path)


class GunicornServer(BaseApplication):
    """gunicorn with the options given here (no command-line parsing) and ``create_app`` as the app."""

    def __init__(self, options: dict[str, Any], app_config: dict[str, Any]) -> None:
        self.options = options
        self.app_config = app_config
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        # gunicorn >= 24 opens a control socket at one fixed path per user; several servers (tests,
        # benchmarks) would fight over it, and ``segmenter serve`` has no use for it.
        if "control_socket_disable" in self.cfg.settings:
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Flask:
        # Called in each worker after the fork (no preload): one model and one store per worker.
        # One BLAS/OpenMP thread per worker: the workers already use every core, and a page is
        # too small for threads to pay off.
        from threadpoolctl import threadpool_limits

        from api import create_app

        threadpool_limits(1)
        return create_app(self.app_config)
