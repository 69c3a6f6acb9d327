"""The daemon link off Blender's UI thread: a worker thread owns the ZeroMQ transport.

The UI thread puts commands (submit, cancel, watch) on ``commands``; the worker sends them,
follows the daemon's events for the jobs it watches, re-reads their state every
``refresh_s`` (events published while it was not connected are otherwise lost), and puts
``Update`` records on ``updates``. Nothing here touches ``bpy``: ``jobs.drain`` applies the
updates on the main thread (from a ``bpy.app.timers`` callback, or directly in tests).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .xdub_protocol.exceptions import XdubError
from .xdub_protocol.messages import (
    CancelJob,
    GetJob,
    JobStateEvent,
    ProgressEvent,
    Submit,
)
from .xdub_protocol.records import JobInfo, JobOptions
from .xdub_protocol.zmq_transport import ClientTransport

log = logging.getLogger(__name__)

CLIENT_NAME = "blender"


@dataclass(frozen=True)
class Update:
    """What happened to a job. ``state`` is a JobState value or "" when unchanged; ``error``
    is ``(code, message, hint)`` when a request or the job failed."""

    job_id: str
    state: str = ""
    stage: str = ""
    fraction: float | None = None
    result_otio: str | None = None
    error: tuple[str, str, str] | None = None


@dataclass(frozen=True)
class _Command:
    kind: str  # "submit", "cancel" or "watch"
    job_id: str
    otio: str = ""
    options: JobOptions | None = None


def _error(job_id: str, error: XdubError) -> Update:
    return Update(job_id, error=(error.code, error.message, error.hint or ""))


def _from_info(job: JobInfo) -> Update:
    error = (job.error.code, job.error.message, job.error.hint or "") if job.error else None
    progress = job.progress
    return Update(
        job.job_id,
        state=job.state.value,
        stage=progress.stage.value if progress else "",
        fraction=progress.fraction if progress else None,
        result_otio=job.result_otio,
        error=error,
    )


class DaemonWorker:
    """A thread that talks to the daemon named by ``connection_file`` (default: the usual one)."""

    def __init__(
        self,
        connection_file: Path | None = None,
        *,
        client_version: str = "",
        poll_s: float = 0.1,
        refresh_s: float = 2.0,
        timeout_s: float = 10.0,
    ) -> None:
        self.connection_file = connection_file
        self.client_version = client_version
        self.poll_s = poll_s
        self.refresh_s = refresh_s
        self.timeout_s = timeout_s
        self.commands: queue.Queue[_Command] = queue.Queue()
        self.updates: queue.Queue[Update] = queue.Queue()
        self._watched: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- UI thread ------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="xdub-daemon", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask the thread to finish and join it (``unregister`` calls this)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._thread = None

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def submit(self, job_id: str, otio: str, options: JobOptions) -> None:
        self.commands.put(_Command("submit", job_id, otio, options))

    def cancel(self, job_id: str) -> None:
        self.commands.put(_Command("cancel", job_id))

    def watch(self, job_id: str) -> None:
        """Follow a job submitted earlier (e.g. by a .blend that was closed and reopened)."""
        self.commands.put(_Command("watch", job_id))

    # -- worker thread --------------------------------------------------------------------

    def _run(self) -> None:
        transport = ClientTransport(
            self.connection_file, client_name=CLIENT_NAME, client_version=self.client_version
        )
        next_refresh = 0.0
        try:
            while not self._stop.is_set():
                self._run_commands(transport)
                if not self._watched:
                    self._stop.wait(self.poll_s)
                    continue
                if time.monotonic() >= next_refresh:
                    self._refresh(transport)
                    next_refresh = time.monotonic() + self.refresh_s
                self._follow_events(transport)
        finally:
            transport.close()

    def _run_commands(self, transport: ClientTransport) -> None:
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                return
            try:
                self._execute(transport, command)
            except XdubError as error:
                log.warning("xdub %s of job %s failed: %s", command.kind, command.job_id, error)
                self.updates.put(_error(command.job_id, error))

    def _execute(self, transport: ClientTransport, command: _Command) -> None:
        reply: Any
        if command.kind == "submit":
            options = command.options or JobOptions()
            reply = transport.call(Submit(command.job_id, command.otio, options), self.timeout_s)
            self._watched.add(command.job_id)
            self.updates.put(Update(command.job_id, state=reply.state.value))
        elif command.kind == "cancel":
            reply = transport.call(CancelJob(command.job_id), self.timeout_s)
            self.updates.put(Update(command.job_id, state=reply.state.value))
        else:
            self._watched.add(command.job_id)
            reply = transport.call(GetJob(command.job_id), self.timeout_s)
            self._report(_from_info(reply.job))

    def _report(self, update: Update) -> None:
        if update.state in ("done", "failed", "cancelled"):
            self._watched.discard(update.job_id)
        self.updates.put(update)

    def _refresh(self, transport: ClientTransport) -> None:
        for job_id in sorted(self._watched):
            try:
                reply = transport.call(GetJob(job_id), self.timeout_s)
            except XdubError as error:
                self._watched.discard(job_id)
                self.updates.put(_error(job_id, error))
                continue
            self._report(_from_info(reply.job))

    def _follow_events(self, transport: ClientTransport) -> None:
        try:
            for message in transport.events(self.poll_s):
                event = message.content
                if isinstance(event, ProgressEvent) and event.job_id in self._watched:
                    progress = event.progress
                    self.updates.put(
                        Update(event.job_id, stage=progress.stage.value, fraction=progress.fraction)
                    )
                elif isinstance(event, JobStateEvent) and event.job_id in self._watched:
                    error = event.error
                    self._report(
                        Update(
                            event.job_id,
                            state=event.state.value,
                            result_otio=event.result_otio,
                            error=(error.code, error.message, error.hint or "") if error else None,
                        )
                    )
        except XdubError as error:
            for job_id in sorted(self._watched):
                self.updates.put(_error(job_id, error))
            self._watched.clear()
