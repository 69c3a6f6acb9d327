"""The worker pipe: typed messages only, both ways; a retry queued right after a cancel gets its
own cancel event.

Seen in CI: cancel, then retry at once; the new run of the same job was queued while the
cancelled one was still returning, which then dropped the new run's cancel event, and the
retried job failed with a KeyError instead of running.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from xdub.protocol.records import ErrorInfo, Progress, Stage, TakeQuality, VramPolicy
from xdub_daemon.wire import (
    CancelOrder,
    DoneReport,
    FailedReport,
    ProgressReport,
    RunOrder,
    WorkerPipe,
    WorkerSpec,
)
from xdub_daemon.worker import _Channel


def _spec(job_id: str) -> WorkerSpec:
    return WorkerSpec(
        job_id, "{}", {}, Path("/jobs") / job_id, Path("/takes/t.mov"), VramPolicy.RESIDENT
    )


def test_messages_cross_a_real_pipe_typed_and_anything_else_is_refused() -> None:
    server_conn, worker_conn = multiprocessing.Pipe()
    server, worker = WorkerPipe.server_end(server_conn), WorkerPipe.worker_end(worker_conn)
    server.send(RunOrder(_spec("job-a")))
    assert worker.receive() == RunOrder(_spec("job-a"))
    progress = Progress(Stage.DENOISE, 1, 2, 3, 4, 0.5, eta_s=9.0)
    reports = [
        ProgressReport("job-a", progress),
        FailedReport("job-a", ErrorInfo("out_of_memory", "m", "h"), worker_exits=True),
        DoneReport("job-a", "{}", ("w",), TakeQuality(is_available=False, note="skipped")),
    ]
    for report in reports:
        worker.send(report)
    assert [server.receive() for _ in reports] == reports
    worker_conn.send(("failed", "job-a", {"code": "internal"}, False))  # the old tuple wire
    with pytest.raises(TypeError, match="not a message of this pipe"):
        server.receive()
    server_conn.send(ProgressReport("job-a", progress))  # a report is not an order
    with pytest.raises(TypeError):
        worker.receive()
    server.close()
    with pytest.raises(EOFError):
        worker.receive()
    worker.close()


def test_a_retry_queued_before_the_cancelled_run_returns_keeps_its_own_cancel() -> None:
    server, worker = multiprocessing.Pipe()
    channel = _Channel(worker)
    channel.handle(RunOrder(_spec("job-a")))
    first_spec, first_cancel = channel.next_job()
    channel.handle(CancelOrder("job-a"))
    assert first_cancel.is_set()
    channel.handle(RunOrder(_spec("job-a")))  # the retry, while the first run is still returning
    channel.finished(first_spec.job_id, first_cancel)
    second_spec, second_cancel = channel.next_job()
    assert second_spec.job_id == "job-a" and second_cancel is not first_cancel
    assert not second_cancel.is_set() and channel.cancels["job-a"] is second_cancel
    channel.handle(CancelOrder("job-a"))
    assert second_cancel.is_set()
    channel.finished(second_spec.job_id, second_cancel)
    assert "job-a" not in channel.cancels
    server.close()
    worker.close()
