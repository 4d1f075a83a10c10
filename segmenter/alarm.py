"""Interrupt pure-Python work after a wall-clock limit, with SIGALRM (main thread only).

A signal is the one way to stop pure-Python work from outside without a thread per task: the
handler raises at the next bytecode. One raise is not enough: when the signal lands while the
interpreter runs a finaliser (a ``weakref.finalize`` callback or ``__del__`` during a garbage
collection), Python prints the exception as "ignored" and the work goes on. So the timer repeats
every ``RETRY_SECONDS`` until the work has been interrupted, and the cleanup cannot be cut short
by a late repeat.
"""
from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

RETRY_SECONDS = 0.05


def can_interrupt() -> bool:
    """Signals reach only the main thread, and only where the platform has ``setitimer``."""
    return threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")


@contextmanager
def interrupt_after(seconds: float, make_error: Callable[[], BaseException]) -> Iterator[None]:
    """Raise ``make_error()`` inside the block once ``seconds`` have passed (call only where
    :func:`can_interrupt`)."""
    armed = [True]

    def on_alarm(signum: int, frame: object) -> None:
        if armed[0]:
            raise make_error()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, RETRY_SECONDS)
    try:
        yield
    finally:
        while armed[0]:
            try:  # a repeat landing here raises once more: disarm again until it sticks
                armed[0] = False
                signal.setitimer(signal.ITIMER_REAL, 0)
            except BaseException:  # noqa: BLE001 - only our own repeat can land here
                armed[0] = True
        signal.signal(signal.SIGALRM, previous)
