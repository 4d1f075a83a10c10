"""The alarm interrupts pure-Python work even when a signal lands inside a finaliser."""
import time

import pytest

from segmenter.alarm import interrupt_after


class Slow(Exception):
    pass


class BusyFinaliser:
    def __del__(self):  # an exception raised in here is printed as "ignored", not propagated
        until = time.perf_counter() + 0.002
        while time.perf_counter() < until:
            pass


def _work_half_inside_finalisers(seconds: float) -> None:
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        BusyFinaliser()  # dropped at once: its __del__ runs here
        spin = time.perf_counter() + 0.002
        while time.perf_counter() < spin:
            pass


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_work_is_interrupted_even_when_the_first_alarm_is_swallowed():
    for _ in range(5):  # a one-shot alarm lands in a finaliser about half of the time
        started = time.perf_counter()
        with pytest.raises(Slow):
            with interrupt_after(0.05, Slow):
                _work_half_inside_finalisers(5.0)
        assert time.perf_counter() - started < 2.0


def test_no_alarm_after_the_block():
    with interrupt_after(0.02, Slow):
        pass
    time.sleep(0.1)  # a timer left running would raise here
