"""The submit validator child: results in order, a time limit, and a crash that is survived."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from xdub.protocol.records import DubOptions, ErrorInfo
from xdub_daemon.validator import SubmitValidator, ValidatedJob, ValidationResult


def _results(validator: SubmitValidator, count: int, timeout_s: float = 60.0) -> list:
    results: list[tuple[int, ValidationResult]] = []
    deadline = time.monotonic() + timeout_s
    while len(results) < count and time.monotonic() < deadline:
        results += validator.receive()
        time.sleep(0.01)
    return results


def test_jobs_past_the_time_limit_or_crashing_the_child_are_refused(
    short_clip, tmp_path: Path
) -> None:
    options, folder = DubOptions(), tmp_path
    validator = SubmitValidator(timeout_s=0.05)  # less than the child needs to import OTIO
    validator.start()
    try:
        validator.validate(1, short_clip.otio, options, folder)
        [(token, slow)] = _results(validator, 1)
        assert token == 1 and isinstance(slow, ErrorInfo) and slow.code == "bad_job"
        assert "longer than 0.05 s" in slow.message
        validator.timeout_s = 60.0
        validator.validate(2, short_clip.otio, options, folder)
        validator.validate(3, "[" * 5000 + "]" * 5000, options, folder)
        [(first, good), (second, deep)] = _results(validator, 2)
        assert (first, second) == (2, 3)
        assert isinstance(good, ValidatedJob) and good.name == short_clip.video.stem
        assert isinstance(deep, ErrorInfo) and "nested" in deep.message
        child = validator.pid
        assert child is not None
        os.kill(child, signal.SIGKILL)
        validator.validate(4, short_clip.otio, options, folder)
        [(_, crashed)] = _results(validator, 1)
        assert isinstance(crashed, ErrorInfo) and crashed.code == "bad_job"
        assert validator.pid != child
        validator.validate(5, short_clip.otio, options, folder)
        [(_, again)] = _results(validator, 1)
        assert isinstance(again, ValidatedJob)
    finally:
        validator.stop()
