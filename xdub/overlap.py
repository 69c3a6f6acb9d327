"""Three stages over a take's windows, overlapped on threads with one window of slack each.

``prepare(k)`` (decode and crop, a worker thread) runs while window k - 1 is ``process``ed (the
denoising, on the calling thread, which owns the GPU), and ``finish(k, result)`` (decode, paste
and encode, another worker thread) runs while window k + 1 is processed. A stage starts window
k only when the next stage has taken window k - 1, so at most one window waits between two
stages and what the stages hold stays bounded. The first error of any stage (``JobCancelled``
included) stops the others at their next hand-over or ``check`` and is raised to the caller;
``run_sequential`` is the same work in the same order on one thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class StageAborted(Exception):
    """Another stage failed; this one stops (never reaches the caller)."""


class _Failure:
    """The first error of any stage, and the flag the others watch."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.error: BaseException | None = None
        self._lock = threading.Lock()

    def set(self, error: BaseException) -> None:
        with self._lock:
            if self.error is None and not isinstance(error, StageAborted):
                self.error = error
        self.event.set()

    def check(self) -> None:
        if self.event.is_set():
            raise StageAborted


class _Handoff(Generic[T]):
    """One item at a time from a producer stage to a consumer stage: the producer reserves the
    slot before it works on an item and the consumer frees it when it takes the item."""

    def __init__(self, failure: _Failure) -> None:
        self._failure = failure
        self._changed = threading.Condition()
        self._reserved = False
        self._items: list[T] = []

    def reserve(self) -> None:
        with self._changed:
            self._wait(lambda: not self._reserved)
            self._reserved = True

    def put(self, item: T) -> None:
        with self._changed:
            self._items.append(item)
            self._changed.notify_all()

    def take(self) -> T:
        with self._changed:
            self._wait(lambda: bool(self._items))
            self._reserved = False
            self._changed.notify_all()
            return self._items.pop(0)

    def wake(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _wait(self, ready: Callable[[], bool]) -> None:
        while not ready():
            self._failure.check()
            self._changed.wait(timeout=0.5)
        self._failure.check()


def run_sequential(
    num_windows: int,
    prepare: Callable[[int], None],
    process: Callable[[int], T],
    finish: Callable[[int, T], None],
) -> None:
    """``prepare``, ``process`` and ``finish`` of every window in turn, on this thread."""
    for window in range(num_windows):
        prepare(window)
        finish(window, process(window))


class Overlapped(Generic[T]):
    """``Overlapped(n, prepare, finish).run(process)``. The stages call ``check`` often (per
    denoising step, per few frames) so that they stop soon when another stage failed."""

    def __init__(
        self,
        num_windows: int,
        prepare: Callable[[int], None],
        finish: Callable[[int, T], None],
    ) -> None:
        self.num_windows = num_windows
        self._prepare, self._finish = prepare, finish
        self._failure = _Failure()
        self._prepared: _Handoff[int] = _Handoff(self._failure)
        self._processed: _Handoff[T] = _Handoff(self._failure)
        self._threads = [
            threading.Thread(target=self._guard, args=(self._prepare_all,), name="take-prepare"),
            threading.Thread(target=self._guard, args=(self._finish_all,), name="take-finish"),
        ]

    def check(self) -> None:
        """Raise ``StageAborted`` if another stage failed."""
        self._failure.check()

    def run(self, process: Callable[[int], T]) -> None:
        """Process every window on this thread while the others prepare and finish; raises
        the first error of any stage after all threads have stopped."""
        for thread in self._threads:
            thread.start()
        try:
            for window in range(self.num_windows):
                # Reserve before taking: window k + 1 is prepared only while k - 1 finishes.
                self._processed.reserve()
                self._prepared.take()
                self._processed.put(process(window))
        except BaseException as error:
            self._failure.set(error)
        finally:
            self._threads[0].join()
            self._threads[1].join()
        if self._failure.error is not None:
            raise self._failure.error

    def _guard(self, stage: Callable[[], None]) -> None:
        try:
            stage()
        except BaseException as error:
            self._failure.set(error)
            self._prepared.wake()
            self._processed.wake()

    def _prepare_all(self) -> None:
        for window in range(self.num_windows):
            self._prepared.reserve()
            self._prepare(window)
            self._prepared.put(window)

    def _finish_all(self) -> None:
        for window in range(self.num_windows):
            self._finish(window, self._processed.take())
