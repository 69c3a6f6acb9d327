"""TEST HOOK: fault injection for the worker, at one seam (the per-window callback).

Only what cannot be provoked for real goes through here: a CUDA out-of-memory, and a worker
that dies at an exact window. ``XDUB_TEST_WORKER_FAULT`` is ``"oom_at_window:N"`` or
``"exit_at_window:N"``: the fault strikes once N windows are finished in a job that has more
than N (so shorter jobs on the same daemon run normally); unset, the callback is unchanged.
"""

from __future__ import annotations

import logging
import os

from xdub.pipeline import WindowCallback
from xdub.sample.clips import LoopState

log = logging.getLogger(__name__)

FAULT_ENV = "XDUB_TEST_WORKER_FAULT"
EXIT_CODE = 86


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
