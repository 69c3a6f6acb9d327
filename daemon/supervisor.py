"""The server's handle on the GPU worker process: start, send jobs, read reports, restart.

The worker is a ``multiprocessing`` spawn child (``xdub_daemon.worker.worker_main``); its pipe
end's file descriptor goes into the server's ZeroMQ poller, so one thread serves both.
"""

from __future__ import annotations

import logging
import multiprocessing
from dataclasses import dataclass
from multiprocessing.process import BaseProcess

from xdub.protocol.records import WorkerState
from xdub_daemon.wire import (
    CancelledReport,
    CancelOrder,
    DoneReport,
    FailedReport,
    FatalReport,
    FromWorker,
    ReadyReport,
    RunOrder,
    StopOrder,
    ToWorker,
    WorkerPipe,
    WorkerSpec,
)
from xdub_daemon.worker import WorkerConfig, worker_main

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class WorkerExit:
    """The worker process ended: its exit code (negative: killed by that signal), and whether
    it had loaded its models."""

    exitcode: int | None
    was_ready: bool


class Supervisor:
    """One worker process at a time; ``state`` and ``job_id`` say what it is doing."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self._context = multiprocessing.get_context("spawn")
        self._process: BaseProcess | None = None
        self._pipe: WorkerPipe[ToWorker, FromWorker] | None = None
        self.state = WorkerState.STOPPED
        self.job_id: str | None = None
        self.device = "unknown"
        self.pid: int | None = None
        self.message: str | None = None

    def start(self) -> None:
        """Spawn a worker; it reports ``ready`` once its models are loaded."""
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=worker_main, args=(child, self.config), name="xdub-worker", daemon=True
        )
        process.start()
        child.close()
        self._process, self._pipe = process, WorkerPipe.server_end(parent)
        self.state, self.job_id, self.pid = WorkerState.STARTING, None, process.pid
        log.info("started the worker (pid %s)", process.pid)

    def fileno(self) -> int | None:
        """The pipe's descriptor to poll, or None without a worker."""
        return self._pipe.fileno() if self._pipe is not None else None

    @property
    def is_idle(self) -> bool:
        return self.state is WorkerState.IDLE

    @property
    def job_ids(self) -> list[str]:
        return [self.job_id] if self.job_id is not None else []

    actors_alive = None
    """No actors: one worker (``xdub_daemon.backend.Backend``)."""

    def runner_of(self, job_id: str) -> str | None:
        return None

    def run(self, spec: WorkerSpec) -> None:
        if self._pipe is None or not self.is_idle:
            raise RuntimeError("the worker is not idle")
        self._pipe.send(RunOrder(spec))
        self.state, self.job_id = WorkerState.BUSY, spec.job_id

    def cancel(self, job_id: str) -> None:
        if self._pipe is not None and self.job_id == job_id:
            self._pipe.send(CancelOrder(job_id))

    def receive(self) -> list[FromWorker | WorkerExit]:
        """Every report waiting on the pipe; a ``WorkerExit`` last if the worker has ended."""
        reports: list[FromWorker | WorkerExit] = []
        pipe = self._pipe
        try:
            while pipe is not None and pipe.poll():
                reports.append(self._track(pipe.receive()))
        except (EOFError, OSError):
            reports.append(self._reap())
            return reports
        if self._process is not None and not self._process.is_alive():
            reports.append(self._reap())
        return reports

    def _track(self, report: FromWorker) -> FromWorker:
        if isinstance(report, ReadyReport):
            self.state, self.device, self.pid = WorkerState.IDLE, report.device, report.pid
        elif isinstance(report, (DoneReport, FailedReport, CancelledReport)):
            will_exit = isinstance(report, FailedReport) and report.worker_exits
            self.state = WorkerState.STOPPED if will_exit else WorkerState.IDLE
            self.job_id = None
        elif isinstance(report, FatalReport):
            self.state = WorkerState.CRASHED
        return report

    def _reap(self) -> WorkerExit:
        process = self._process
        was_ready = self.state is not WorkerState.STARTING
        exitcode = None
        if process is not None:
            process.join(STOP_TIMEOUT_S)
            exitcode = process.exitcode
        if self._pipe is not None:
            self._pipe.close()
        self._process, self._pipe = None, None
        self.state = WorkerState.CRASHED if exitcode not in (0, None) else WorkerState.STOPPED
        log.warning("the worker (pid %s) exited with code %s", self.pid, exitcode)
        self.pid = None
        return WorkerExit(exitcode, was_ready)

    def stop(self) -> None:
        """Stop the worker (a running job is abandoned where its checkpoint stands)."""
        process, pipe = self._process, self._pipe
        if process is None:
            return
        try:
            if pipe is not None:
                pipe.send(StopOrder())
        except OSError:
            pass
        process.join(STOP_TIMEOUT_S)
        if process.is_alive():
            process.kill()
            process.join(STOP_TIMEOUT_S)
        if pipe is not None:
            pipe.close()
        self._process, self._pipe = None, None
        self.state, self.job_id, self.pid = WorkerState.STOPPED, None, None
