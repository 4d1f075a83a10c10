"""The segmentation deadline: a real interrupt on the main thread, a bounded wait elsewhere."""
from __future__ import annotations

import signal
import threading
import time

import pytest

from api.deadline import DeadlineExceeded, call_with_deadline


def busy(seconds: float) -> str:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass
    return "done"


def test_fast_work_returns_its_value():
    assert call_with_deadline(lambda: busy(0.001), 1.0) == "done"
    assert call_with_deadline(lambda: 7, None) == 7


def test_slow_work_is_interrupted_on_the_main_thread():
    started = time.perf_counter()
    with pytest.raises(DeadlineExceeded):
        call_with_deadline(lambda: busy(5.0), 0.05)
    assert time.perf_counter() - started < 0.5
    # The alarm is disarmed and the previous handler is back.
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.SIG_IGN, None) or callable(
        signal.getsignal(signal.SIGALRM))


def test_off_the_main_thread_the_caller_stops_waiting():
    outcome: list[object] = []

    def caller() -> None:
        started = time.perf_counter()
        try:
            call_with_deadline(lambda: busy(0.5), 0.05)
        except DeadlineExceeded:
            outcome.append(time.perf_counter() - started)

    thread = threading.Thread(target=caller)
    thread.start()
    thread.join()
    assert outcome and outcome[0] < 0.4
