"""Run one piece of work with a wall-clock deadline, so that a pathological page cannot hold a worker.

In gunicorn's sync workers (what ``segmenter serve`` runs) every request is handled on the worker's
main thread, so the deadline is a real interrupt (``segmenter.alarm``): :class:`DeadlineExceeded`
is raised inside the segmentation at the next Python bytecode, the worker answers at once and moves on.

Off the main thread (the Flask development server, a threaded worker class) signals cannot be used;
the work then runs on a helper thread and the request stops waiting at the deadline. Python cannot
kill that thread, so it finishes in the background; gunicorn's own ``--timeout`` stays the last
resort against work stuck inside C code.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

from segmenter.alarm import can_interrupt, interrupt_after

T = TypeVar("T")

_fallback_pool: ThreadPoolExecutor | None = None
_fallback_lock = threading.Lock()


class DeadlineExceeded(Exception):
    """The work did not finish within its time limit."""


def call_with_deadline(work: Callable[[], T], seconds: float | None) -> T:
    """Return ``work()``, or raise :class:`DeadlineExceeded` once ``seconds`` have passed.

    ``None`` or a non-positive limit means no limit.
    """
    if not seconds or seconds <= 0:
        return work()
    if can_interrupt():
        with interrupt_after(seconds, DeadlineExceeded):
            return work()
    return _with_thread(work, seconds)


def _with_thread(work: Callable[[], T], seconds: float) -> T:
    global _fallback_pool
    with _fallback_lock:
        if _fallback_pool is None:
            _fallback_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="deadline")
    future = _fallback_pool.submit(work)
    try:
        return future.result(timeout=seconds)
    except FutureTimeout:
        future.cancel()
        raise DeadlineExceeded from None
