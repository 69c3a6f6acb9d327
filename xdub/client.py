"""``DaemonClient``: the high-level, torch-free client of the xdub daemon.

Used by the CLI, the tray app and the plugins. It sits on ``ClientTransport`` (which finds the
daemon through the connection file and re-reads it when the daemon restarts) and turns replies
into records and error replies into the ``XdubError`` of their code. ``wait`` follows a job
through a daemon restart: while the daemon is gone it keeps trying for ``reconnect_s``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import cast

from xdub import __version__
from xdub.errors import ProtocolError
from xdub.protocol.errors import ErrorCode
from xdub.protocol.messages import (
    CancelJob,
    CancelJobReply,
    DeleteJob,
    GetJob,
    GetJobReply,
    HelloReply,
    JobStateEvent,
    ListJobs,
    ListJobsReply,
    Models,
    ModelsReply,
    ProgressEvent,
    RetryJob,
    RetryJobReply,
    Settings,
    SettingsReply,
    Shutdown,
    Submit,
    SubmitReply,
)
from xdub.protocol.records import (
    JobInfo,
    JobOptions,
    JobState,
    ModelAction,
    ModelInfo,
    SettingsAction,
)
from xdub.protocol.signing import Message
from xdub.protocol.zmq_transport import ClientTransport

log = logging.getLogger(__name__)

_RECONNECT_CODES = (ErrorCode.DAEMON_NOT_RUNNING.value, ErrorCode.TIMEOUT.value)
EventCallback = Callable[[Message], None]


def new_job_id() -> str:
    """A fresh job id (a uuid4 hex)."""
    return uuid.uuid4().hex


class DaemonClient:
    """Requests to the daemon named by ``connection_file`` (default: the per-user one).

    ``timeout_s`` bounds each request; ``reconnect_s`` is how long ``wait`` keeps trying while
    the daemon is down or restarting. Use one client per thread.
    """

    def __init__(
        self,
        connection_file: Path | None = None,
        *,
        client_name: str = "xdub-cli",
        timeout_s: float = 10.0,
        reconnect_s: float = 120.0,
    ) -> None:
        self.transport = ClientTransport(
            connection_file, client_name=client_name, client_version=__version__
        )
        self.timeout_s = timeout_s
        self.reconnect_s = reconnect_s

    def __enter__(self) -> DaemonClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.transport.close()

    # -- requests ----------------------------------------------------------------------------

    def hello(self) -> HelloReply:
        """Connect (again) and return the daemon's ``hello`` reply."""
        return self.transport.connect(self.timeout_s)

    def submit(
        self,
        otio_json: str,
        options: JobOptions | None = None,
        *,
        job_id: str | None = None,
        priority: int = 0,
    ) -> SubmitReply:
        """Queue the OTIO job; resending the same ``job_id`` and job is safe."""
        request = Submit(job_id or new_job_id(), otio_json, options or JobOptions(), priority)
        return cast(SubmitReply, self.transport.call(request, self.timeout_s))

    def list_jobs(
        self, states: Sequence[JobState] | None = None, limit: int = 100
    ) -> list[JobInfo]:
        """Jobs newest first."""
        request = ListJobs(tuple(states) if states is not None else None, limit)
        return list(cast(ListJobsReply, self.transport.call(request, self.timeout_s)).jobs)

    def get(self, job_id: str) -> JobInfo:
        return cast(GetJobReply, self.transport.call(GetJob(job_id), self.timeout_s)).job

    def cancel(self, job_id: str) -> JobState:
        reply = self.transport.call(CancelJob(job_id), self.timeout_s)
        return cast(CancelJobReply, reply).state

    def retry(self, job_id: str) -> JobState:
        return cast(RetryJobReply, self.transport.call(RetryJob(job_id), self.timeout_s)).state

    def delete(self, job_id: str, *, delete_files: bool = False) -> None:
        self.transport.call(DeleteJob(job_id, delete_files), self.timeout_s)

    def models(
        self, action: ModelAction = ModelAction.LIST, names: Sequence[str] = ()
    ) -> list[ModelInfo]:
        reply = self.transport.call(Models(action, tuple(names)), self.timeout_s)
        return list(cast(ModelsReply, reply).models)

    def settings(self, values: dict[str, object] | None = None) -> dict[str, object]:
        """Every setting; with ``values``, after changing them."""
        action = SettingsAction.SET if values else SettingsAction.GET
        reply = self.transport.call(Settings(action, dict(values or {})), self.timeout_s)
        return dict(cast(SettingsReply, reply).settings)

    def shutdown(self, *, after_current_job: bool = False) -> None:
        self.transport.call(Shutdown(after_current_job), self.timeout_s)

    # -- events ------------------------------------------------------------------------------

    def events(self, timeout_s: float, job_ids: Sequence[str] | None = None) -> Iterator[Message]:
        """Events for ``timeout_s`` seconds; with ``job_ids``, only those jobs' events."""
        wanted = set(job_ids) if job_ids is not None else None
        for event in self.transport.events(timeout_s):
            content = event.content
            if wanted is not None:
                if not isinstance(content, (JobStateEvent, ProgressEvent)):
                    continue
                if content.job_id not in wanted:
                    continue
            yield event

    def wait(
        self,
        job_id: str,
        timeout_s: float = 3600.0,
        *,
        on_event: EventCallback | None = None,
        poll_s: float = 2.0,
    ) -> JobInfo:
        """Follow ``job_id`` until it is done, failed or cancelled; returns its final info.

        Events are passed to ``on_event``; the job is also re-read every ``poll_s`` (events
        published while this client was not subscribed are lost). Raises ``timeout``.
        """
        deadline = time.monotonic() + timeout_s
        down_since: float | None = None
        while time.monotonic() < deadline:
            try:
                job = self.get(job_id)
                down_since = None
                if job.state.is_terminal:
                    return job
                for event in self.events(poll_s, [job_id]):
                    if on_event is not None:
                        on_event(event)
                    content = event.content
                    if isinstance(content, JobStateEvent) and content.state.is_terminal:
                        break
            except ProtocolError as error:
                if error.code not in _RECONNECT_CODES:
                    raise
                down_since = down_since or time.monotonic()
                if time.monotonic() - down_since > self.reconnect_s:
                    raise
                log.info("the daemon is not answering (%s); trying again", error.code)
                self.transport.close()
                time.sleep(min(poll_s, 0.5))
        raise ProtocolError(
            f"job {job_id} did not finish within {timeout_s:g} s", code=ErrorCode.TIMEOUT.value
        )
