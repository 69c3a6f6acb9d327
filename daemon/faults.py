"""TEST HOOK: fault injection at two seams, the worker's per-window callback and the job
store's SQL statements.

Only what cannot be provoked for real goes through here: a CUDA out-of-memory, a worker that
dies at an exact window, and a daemon that dies (or freezes) at an exact point of a store
write. ``XDUB_TEST_WORKER_FAULT`` is ``"oom_at_window:N"`` or ``"exit_at_window:N"``: the fault
strikes once N windows are finished in a job that has more than N (so shorter jobs on the same
daemon run normally). ``XDUB_TEST_STORE_FAULT`` is ``"exit:KEYWORD:N"`` or
``"stop:KEYWORD:N"``: just before the store's Nth write statement starting with ``KEYWORD``
(``BEGIN``, ``INSERT``, ``UPDATE``, ``DELETE``, ``COMMIT``) in this process, the daemon exits at
once (as kill -9 would leave it) or stops itself with SIGSTOP (so a test can copy its files
mid-transaction, as a power cut would leave them). Unset, nothing changes.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xdub.pipeline import WindowCallback
    from xdub.sample.clips import LoopState

log = logging.getLogger(__name__)

FAULT_ENV = "XDUB_TEST_WORKER_FAULT"
STORE_FAULT_ENV = "XDUB_TEST_STORE_FAULT"
EXIT_CODE = 86
STORE_KEYWORDS = ("BEGIN", "INSERT", "UPDATE", "DELETE", "COMMIT")
StatementHook = Callable[[str], None]


def with_test_faults(on_window: WindowCallback) -> WindowCallback:
    """``on_window``, wrapped to raise or exit at the window ``$XDUB_TEST_WORKER_FAULT`` names."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return on_window
    kind, _, number = spec.partition(":")
    if kind not in ("oom_at_window", "exit_at_window") or not number.isdigit():
        raise ValueError(f"{FAULT_ENV}={spec!r} is not oom_at_window:N or exit_at_window:N")
    at_window = int(number)

    def faulty(windows_done: int, num_windows: int, state: LoopState) -> None:
        on_window(windows_done, num_windows, state)
        if windows_done != at_window or num_windows <= at_window:
            return
        log.warning("TEST HOOK %s: injecting %s", FAULT_ENV, kind)
        if kind == "exit_at_window":
            os._exit(EXIT_CODE)
        import torch

        raise torch.OutOfMemoryError(f"TEST HOOK {FAULT_ENV}: injected out of memory")

    return faulty


def store_fault_hook() -> StatementHook | None:
    """The hook the store calls with each write statement before running it, for
    ``$XDUB_TEST_STORE_FAULT``; None when unset."""
    spec = os.environ.get(STORE_FAULT_ENV)
    if not spec:
        return None
    action, keyword, number = (spec.split(":") + ["", ""])[:3]
    if action not in ("exit", "stop") or keyword not in STORE_KEYWORDS or not number.isdigit():
        raise ValueError(f"{STORE_FAULT_ENV}={spec!r} is not exit|stop:KEYWORD:N")
    at_count, seen = int(number), 0

    def before(sql: str) -> None:
        nonlocal seen
        if not sql.lstrip().upper().startswith(keyword):
            return
        seen += 1
        if seen != at_count:
            return
        log.warning("TEST HOOK %s: %s before %s", STORE_FAULT_ENV, action, sql.split("(")[0])
        if action == "exit":
            os._exit(EXIT_CODE)
        os.kill(os.getpid(), signal.SIGSTOP)

    return before
