"""The worker's pipe messages: a retry queued right after a cancel gets its own cancel event.

Seen in CI: cancel, then retry at once; the new run of the same job was queued while the
cancelled one was still returning, which then dropped the new run's cancel event, and the
retried job failed with a KeyError instead of running.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from xdub.protocol.records import VramPolicy
from xdub_daemon.worker import WorkerSpec, _Channel


def _spec(job_id: str) -> WorkerSpec:
    return WorkerSpec(
        job_id, "{}", {}, Path("/jobs") / job_id, Path("/takes/t.mov"), VramPolicy.RESIDENT
    )


def test_a_retry_queued_before_the_cancelled_run_returns_keeps_its_own_cancel() -> None:
    server, worker = multiprocessing.Pipe()
    channel = _Channel(worker)
    channel.handle(("run", _spec("job-a")))
    first_spec, first_cancel = channel.next_job()
    channel.handle(("cancel", "job-a"))
    assert first_cancel.is_set()
    channel.handle(("run", _spec("job-a")))  # the retry, while the first run is still returning
    channel.finished(first_spec.job_id, first_cancel)
    second_spec, second_cancel = channel.next_job()
    assert second_spec.job_id == "job-a" and second_cancel is not first_cancel
    assert not second_cancel.is_set() and channel.cancels["job-a"] is second_cancel
    channel.handle(("cancel", "job-a"))
    assert second_cancel.is_set()
    channel.finished(second_spec.job_id, second_cancel)
    assert "job-a" not in channel.cancels
    server.close()
    worker.close()
