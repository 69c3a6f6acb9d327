"""``xdub.overlap``: the three window stages on threads, bounded, with errors from any stage."""

from __future__ import annotations

import threading
import time

import pytest

from xdub.errors import JobCancelled
from xdub.overlap import Overlapped, run_sequential

NUM_WINDOWS = 8


class _Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []
        self._lock = threading.Lock()

    def add(self, stage: str, window: int) -> None:
        with self._lock:
            self.events.append((stage, window))
        time.sleep(0.002)

    def started(self, stage: str) -> list[int]:
        return [window for name, window in self.events if name == stage]


def _stages(log: _Log, failing: str | None = None, error: BaseException | None = None):
    def maybe_fail(stage: str, window: int) -> None:
        if stage == failing and window == 2:
            assert error is not None
            raise error

    def prepare(window: int) -> None:
        log.add("prepare", window)
        maybe_fail("prepare", window)

    def process(window: int) -> int:
        log.add("process", window)
        maybe_fail("process", window)
        return window * 10

    def finish(window: int, result: int) -> None:
        assert result == window * 10
        log.add("finish", window)
        maybe_fail("finish", window)

    return prepare, process, finish


def test_overlapped_stages_run_every_window_once_within_one_window_of_each_other() -> None:
    log = _Log()
    prepare, process, finish = _stages(log)
    Overlapped(NUM_WINDOWS, prepare, finish).run(process)
    for stage in ("prepare", "process", "finish"):
        assert log.started(stage) == list(range(NUM_WINDOWS))
    for at, (stage, window) in enumerate(log.events):
        before = log.events[:at]
        if stage == "prepare" and window >= 1:
            # window k is prepared only once k - 1 is processing and k - 2 finishing
            assert ("process", window - 1) in before
            assert window < 2 or ("finish", window - 2) in before
        if stage == "process" and window >= 1:
            assert ("prepare", window) in before


def test_sequential_stages_run_in_window_order() -> None:
    log = _Log()
    prepare, process, finish = _stages(log)
    run_sequential(NUM_WINDOWS, prepare, process, finish)
    stages = ("prepare", "process", "finish")
    expected = [(stage, w) for w in range(NUM_WINDOWS) for stage in stages]
    assert log.events == expected


@pytest.mark.parametrize("failing", ["prepare", "process", "finish"])
@pytest.mark.parametrize("error", [JobCancelled("cancelled by request"), OSError("disk full")])
def test_the_first_error_of_any_stage_stops_the_others_and_reaches_the_caller(
    failing: str, error: BaseException
) -> None:
    log = _Log()
    prepare, process, finish = _stages(log, failing, error)
    threads_before = threading.active_count()
    with pytest.raises(type(error)) as raised:
        Overlapped(NUM_WINDOWS, prepare, finish).run(process)
    assert raised.value is error
    assert threading.active_count() == threads_before  # both stage threads have ended
    assert all(window <= 4 for _, window in log.events)  # at most two windows past it
    assert ("finish", NUM_WINDOWS - 1) not in log.events


def test_a_long_processing_stage_stops_at_its_next_check_when_another_stage_fails() -> None:
    checks = []

    def prepare(window: int) -> None:
        if window == 1:
            raise OSError("unreadable frame")

    def finish(window: int, result: None) -> None:
        pass

    stages = Overlapped(3, prepare, finish)

    def process(window: int) -> None:
        for _ in range(2000):  # a denoising loop that checks between its steps
            checks.append(window)
            stages.check()
            time.sleep(0.001)

    started = time.monotonic()
    with pytest.raises(OSError, match="unreadable frame"):
        stages.run(process)
    assert time.monotonic() - started < 1.5  # not the 2 s the whole window would take
