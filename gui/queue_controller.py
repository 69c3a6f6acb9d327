"""``QueueController``: keeps the job table in step with the daemon and runs the job actions.

On every (re)connect it asks for the job list (events published before a SUB connected are
never seen, so the list is the truth); events then update the table live. It turns finished
and failed takes into ``notify(title, text)`` for the tray, and tracks the worker's health.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal, Slot

from xdub.errors import XdubError
from xdub.protocol.messages import (
    CancelJob,
    GetJob,
    GetJobReply,
    HelloReply,
    ListJobs,
    ListJobsReply,
    MakeFinal,
    RetryJob,
    WorkerHealthEvent,
)
from xdub.protocol.records import WorkerState
from xdub.protocol.schema import Content
from xdub_gui.bridge import ClientBridge
from xdub_gui.jobs_model import JobRow, JobTableModel
from xdub_gui.status import DaemonStatus, daemon_status

log = logging.getLogger(__name__)

HISTORY_LIMIT = 200


class QueueController(QObject):
    """Signals: ``status_changed(DaemonStatus)``, ``notify(str, str)`` (title, text),
    ``action_failed(str)`` (a refused cancel/retry or an unreachable daemon)."""

    status_changed = Signal(object)
    notify = Signal(str, str)
    action_failed = Signal(str)

    def __init__(self, bridge: ClientBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.jobs = JobTableModel(self)
        self.worker_state: WorkerState | None = None
        self.worker_message: str | None = None
        self.actors_alive: int | None = None
        self.status = daemon_status(is_connected=False, rows=[])
        bridge.connected.connect(self._on_connected)
        bridge.disconnected.connect(self._on_disconnected)
        bridge.event_received.connect(self._on_event)
        self.jobs.unknown_job.connect(self.refresh_job)
        self.jobs.take_ready.connect(self._on_take_ready)
        self.jobs.job_failed.connect(self._on_job_failed)
        self.jobs.started.connect(lambda row: self.refresh_job(row.job_id))
        self.jobs.dataChanged.connect(self._update_status)
        self.jobs.modelReset.connect(self._update_status)
        self.jobs.rowsInserted.connect(self._update_status)

    # -- actions ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload every job (newest first, finished ones from the history included)."""
        self.bridge.request(ListJobs(limit=HISTORY_LIMIT), self._on_list, self._on_error)

    @Slot(str)
    def refresh_job(self, job_id: str) -> None:
        self.bridge.request(GetJob(job_id), self._on_get, self._on_error)

    def cancel(self, job_id: str) -> None:
        self.bridge.request(CancelJob(job_id), lambda _: self.refresh_job(job_id), self._on_error)

    def retry(self, job_id: str) -> None:
        self.bridge.request(RetryJob(job_id), lambda _: self.refresh_job(job_id), self._on_error)

    def make_final(self, job_id: str) -> None:
        """Queue the final take of the done draft ``job_id`` (a new job; the list shows it)."""
        self.bridge.request(MakeFinal(job_id), lambda _: self.refresh(), self._on_error)

    # -- what the daemon says ----------------------------------------------------------------

    @Slot(object)
    def _on_connected(self, hello: HelloReply) -> None:
        log.info("tray connected to xdub %s (pid %d)", hello.xdub_version, hello.pid)
        self.worker_state = None
        self.refresh()
        self._update_status()

    @Slot(str)
    def _on_disconnected(self, reason: str) -> None:
        self.worker_state = None
        self._update_status()

    @Slot(object)
    def _on_event(self, event: Content) -> None:
        if isinstance(event, WorkerHealthEvent):
            self.worker_state, self.worker_message = event.state, event.message
            self.actors_alive = event.actors_alive
            self._update_status()
            return
        self.jobs.apply_event(event)

    def _on_list(self, reply: Content) -> None:
        if isinstance(reply, ListJobsReply):
            self.jobs.reset_jobs(reply.jobs)

    def _on_get(self, reply: Content) -> None:
        if isinstance(reply, GetJobReply):
            self.jobs.upsert(reply.job)

    def _on_error(self, error: XdubError) -> None:
        text = error.message + (f" ({error.hint})" if error.hint else "")
        self.action_failed.emit(text)

    def _on_take_ready(self, row: JobRow) -> None:
        self.notify.emit("Take ready", f"{row.title} is dubbed")
        self.refresh_job(row.job_id)  # the state event has no quality check: ``get`` has

    def _on_job_failed(self, row: JobRow) -> None:
        reason = row.error.message if row.error else "unknown error"
        self.notify.emit("Dub failed", f"{row.title}: {reason}")

    @Slot()
    def _update_status(self, *_: object) -> None:
        status: DaemonStatus = daemon_status(
            is_connected=self.bridge.is_connected,
            rows=self.jobs.rows(),
            worker_state=self.worker_state,
            last_error=self.worker_message,
            actors_alive=self.actors_alive,
        )
        if status != self.status:
            self.status = status
            self.status_changed.emit(status)
