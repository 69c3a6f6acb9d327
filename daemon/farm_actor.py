"""The Ray actor of the farm backend: one per GPU, holding one resident ``DubPipeline``.

``FarmActor`` loads the models once, in its constructor, and runs jobs with the worker's own
``xdub_daemon.worker.run_job``: ``run(spec)`` is a streaming generator that yields the same
``FromWorker`` reports the worker subprocess sends on its pipe, as they happen. The actor is
threaded, so ``cancel(job_id)`` is served while a job runs (the pipeline honours it between
two denoising steps). The daemon side is ``xdub_daemon.farm``.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from xdub_daemon.logs import setup_logging
from xdub_daemon.wire import FatalReport, FromWorker, ReadyReport, WorkerSpec
from xdub_daemon.worker import WorkerConfig, load_pipeline, run_job

if TYPE_CHECKING:
    from xdub.pipeline import DubPipeline

log = logging.getLogger(__name__)

LOADS_FILE_ENV = "XDUB_TEST_FARM_LOADS"
"""TEST HOOK: a file each actor appends ``<pid>`` to when its models are loaded (a count of
model loads that survives the actor's process)."""


class FarmActor:
    """Models loaded once per actor; ``run`` a job at a time, ``cancel`` from another thread."""

    def __init__(self, config: WorkerConfig) -> None:
        try:
            setup_logging(config.log_path)
        except OSError:  # another node without the daemon's log folder: Ray keeps stderr
            logging.basicConfig(level=logging.INFO)
        self._cancels: dict[str, threading.Event] = {}
        reports: list[FromWorker] = []
        self._pipeline: DubPipeline | None = load_pipeline(config, reports.append)
        self._loaded = reports[0]
        loads_file = os.environ.get(LOADS_FILE_ENV)
        if loads_file and self._pipeline is not None:
            with open(loads_file, "a", encoding="ascii") as file:
                file.write(f"{os.getpid()}\n")

    def ready(self) -> tuple[ReadyReport | FatalReport, str]:
        """How loading went, and this actor's node (host name)."""
        assert isinstance(self._loaded, (ReadyReport, FatalReport))
        return self._loaded, socket.gethostname()

    def run(self, spec: WorkerSpec) -> Iterator[FromWorker]:
        """Run ``spec``, yielding its reports as they come (the last one ends the job)."""
        assert self._pipeline is not None, "run on an actor whose models did not load"
        cancel = self._cancels[spec.job_id] = threading.Event()
        reports: queue.Queue[FromWorker | None] = queue.Queue()
        pipeline = self._pipeline

        def work() -> None:
            try:  # after a FailedReport(worker_exits=True) the daemon replaces this actor
                run_job(pipeline, spec, cancel, reports.put)
            finally:
                reports.put(None)

        threading.Thread(target=work, name=f"job-{spec.job_id}", daemon=True).start()
        try:
            while (report := reports.get()) is not None:
                yield report
        finally:
            if self._cancels.get(spec.job_id) is cancel:
                del self._cancels[spec.job_id]

    def cancel(self, job_id: str) -> None:
        """Stop the job's run between two denoising steps."""
        event = self._cancels.get(job_id)
        if event is not None:
            event.set()
