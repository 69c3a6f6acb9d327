"""``DaemonClient``: the one client of the xdub daemon (CLI, tray, Resolve and Blender plugins).

Stdlib-only and Python 3.10-compatible: the hosts' Pythons get a copy of this module. Under it
is a transport: the protocol over pyzmq (``zmq_transport.ClientTransport``) where ``zmq``
imports, else ``xdub bridge`` run by the daemon's own Python (``bridge_transport``). Both find
the daemon through the connection file and follow it when it restarts. The client turns error
replies into the ``XdubError`` of their code.

``watch`` follows jobs without blocking (``watch.JobWatch``); ``wait`` is ``watch`` for one
job, blocking. ``fetch_take`` reads a done job's take (``takes.read_take``) and checks that its file
can be reached from here.

Media travel with the job when the connection file is a remote one (a ``--listen`` daemon's,
whose requests are CURVE-encrypted: ``sends_media``): ``submit`` uploads the files the job
references (content the daemon holds already is not sent) and names them by hash, and ``fetch_take``
downloads the take into the place the caller asked for, resuming a cut-off download
(``remote_media.RemoteMedia``). A loopback daemon's connection reads the paths themselves (no copy).
"""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Protocol, cast

from xdub.errors import ProtocolError, XdubError
from xdub.protocol.connection import (
    default_connection_path,
    find_daemon,
    is_local,
    read_connection_file,
)
from xdub.protocol.download import Progress as DownloadProgress
from xdub.protocol.errors import ErrorCode
from xdub.protocol.messages import (
    CancelJob,
    CancelJobReply,
    DeleteJob,
    GetJob,
    GetJobReply,
    HelloReply,
    JobEvents,
    JobEventsReply,
    JobStateEvent,
    ListJobs,
    ListJobsReply,
    MakeFinal,
    MakeFinalReply,
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
    DubOptions,
    JobInfo,
    JobState,
    ModelAction,
    ModelInfo,
    SettingsAction,
)
from xdub.protocol.remote_media import RemoteMedia
from xdub.protocol.schema import Content
from xdub.protocol.takes import Take, read_take
from xdub.protocol.transfer import TransferStats, Uploader
from xdub.protocol.transfer_messages import DEFAULT_CHUNK_BYTES
from xdub.protocol.watch import JobWatch


class Received(Protocol):
    """An event as a transport yields it (``signing.Message`` or ``BridgeMessage``)."""

    @property
    def msg_type(self) -> str: ...

    @property
    def content(self) -> Content: ...


class Transport(Protocol):
    """What the client needs of a transport (``ClientTransport`` and ``BridgeTransport``)."""

    daemon: HelloReply | None

    def connect(self, timeout_s: float = 10.0) -> HelloReply: ...

    def call(self, content: Content, timeout_s: float = 10.0) -> Content: ...

    def events(self, timeout_s: float) -> Iterator[Received]: ...

    def close(self) -> None: ...


EventCallback = Callable[[Received], None]


def new_job_id() -> str:
    """A fresh job id (a uuid4 hex)."""
    return uuid.uuid4().hex


def has_pyzmq() -> bool:
    """Whether this Python can talk ZeroMQ itself (else the client uses ``xdub bridge``)."""
    try:
        import zmq  # noqa: F401
    except ImportError:
        return False
    return True


def open_transport(
    connection_file: Path | None = None, *, client_name: str, client_version: str
) -> Transport:
    """pyzmq's transport where it imports, else the ``xdub bridge`` one."""
    if has_pyzmq():
        from xdub.protocol.zmq_transport import ClientTransport

        return ClientTransport(
            connection_file, client_name=client_name, client_version=client_version
        )
    from xdub.protocol.bridge_transport import BridgeTransport

    return BridgeTransport(connection_file, client_name=client_name, client_version=client_version)


class DaemonClient:
    """Requests to the daemon named by ``connection_file`` (default: the per-user one).

    ``timeout_s`` bounds each request; ``reconnect_s`` is how long ``wait`` and ``watch`` keep
    trying while the daemon is down or restarting. ``transport`` defaults to
    ``open_transport``'s. ``send_media``: upload the job's media and download takes (None:
    when the connection file is a remote daemon's, see ``sends_media``); ``chunk_bytes``: the
    transfer chunk size. Use one client per thread.
    """

    def __init__(
        self,
        connection_file: Path | None = None,
        *,
        client_name: str = "xdub",
        client_version: str = "",
        timeout_s: float = 10.0,
        reconnect_s: float = 120.0,
        transport: Transport | None = None,
        send_media: bool | None = None,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    ) -> None:
        self.connection_file = connection_file or default_connection_path()
        self.send_media = send_media
        self.media = RemoteMedia(self.call, lambda: self.daemon or self.hello(), chunk_bytes)
        self.transport = transport or open_transport(
            self.connection_file, client_name=client_name, client_version=client_version
        )
        self.timeout_s = timeout_s
        self.reconnect_s = reconnect_s

    def __enter__(self) -> DaemonClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.transport.close()

    @property
    def last_transfer(self) -> TransferStats:
        """What the last upload (``submit``) or download (``fetch_take``) moved."""
        return self.media.last_transfer

    @property
    def daemon(self) -> HelloReply | None:
        """The last ``hello`` reply (``None`` while not connected)."""
        return self.transport.daemon

    @property
    def is_remote(self) -> bool:
        """Whether the connection file names a daemon on another machine."""
        return not is_local(find_daemon(self.connection_file))

    @property
    def sends_media(self) -> bool:
        """Whether jobs carry their media: the connection file is a ``--listen`` daemon's
        (CURVE-encrypted requests), unless ``send_media`` says otherwise."""
        if self.send_media is not None:
            return self.send_media
        return bool(read_connection_file(self.connection_file).request_server_key)

    def check_alive(self) -> None:
        """Raise ``daemon_not_running`` if the daemon's process is gone (after a kill -9)."""
        find_daemon(self.connection_file)

    # -- requests ----------------------------------------------------------------------------

    def hello(self, timeout_s: float | None = None) -> HelloReply:
        """Connect (again) and return the daemon's ``hello`` reply."""
        return self.transport.connect(timeout_s or self.timeout_s)

    def call(self, request: Content, timeout_s: float | None = None) -> Content:
        """Any request; returns its ok reply, raises an error reply as its ``XdubError``."""
        return self.transport.call(request, timeout_s or self.timeout_s)

    def submit(
        self,
        otio_json: str,
        options: DubOptions | None = None,
        *,
        job_id: str | None = None,
        priority: int = 0,
    ) -> SubmitReply:
        """Queue the OTIO job; resending the same ``job_id`` and job is safe. To a remote
        daemon (``sends_media``) the media are uploaded first and ``output_dir`` stays here:
        ``fetch_take`` downloads the take into it."""
        job_id = job_id or new_job_id()
        options = options or DubOptions()
        if self.sends_media:
            otio_json = self.media.upload(otio_json)
            if options.output_dir:
                self.media.take_folders[job_id] = options.output_dir
            options = dataclasses.replace(options, output_dir=None)
        request = Submit(job_id, otio_json, options, priority)
        return cast(SubmitReply, self.call(request))

    def upload_media(self, otio_json: str) -> str:
        """Upload the files the job ``otio_json`` references; returns it naming them by
        hash (``xdub-upload:<sha256>``). ``last_transfer`` says what was sent."""
        return self.media.upload(otio_json)

    def uploader(self) -> Uploader:
        """The ``Uploader`` ``upload_media`` uses (a new one per call)."""
        return self.media.uploader()

    def list_jobs(
        self, states: Sequence[JobState] | None = None, limit: int = 100
    ) -> list[JobInfo]:
        """Jobs newest first."""
        request = ListJobs(tuple(states) if states is not None else None, limit)
        return list(cast(ListJobsReply, self.call(request)).jobs)

    def get(self, job_id: str) -> JobInfo:
        return cast(GetJobReply, self.call(GetJob(job_id))).job

    def job_events(self, job_id: str, after_seq: int = 0) -> JobEventsReply:
        """The events of ``job_id`` numbered above ``after_seq`` that the daemon keeps (to
        fill a gap in the ``seq`` of its live events)."""
        return cast(JobEventsReply, self.call(JobEvents(job_id, after_seq)))

    def cancel(self, job_id: str) -> JobState:
        return cast(CancelJobReply, self.call(CancelJob(job_id))).state

    def retry(self, job_id: str) -> JobState:
        return cast(RetryJobReply, self.call(RetryJob(job_id))).state

    def make_final(self, job_id: str) -> str:
        """Queue the final take of the done draft ``job_id``; returns the new job's id."""
        return cast(MakeFinalReply, self.call(MakeFinal(job_id))).job_id

    def delete(self, job_id: str, *, delete_files: bool = False) -> None:
        self.call(DeleteJob(job_id, delete_files))

    def models(
        self, action: ModelAction = ModelAction.LIST, names: Sequence[str] = ()
    ) -> list[ModelInfo]:
        return list(cast(ModelsReply, self.call(Models(action, tuple(names)))).models)

    def settings(self, values: dict[str, object] | None = None) -> dict[str, object]:
        """Every setting; with ``values``, after changing them."""
        action = SettingsAction.SET if values else SettingsAction.GET
        return dict(cast(SettingsReply, self.call(Settings(action, dict(values or {})))).settings)

    def shutdown(self, *, after_current_job: bool = False) -> None:
        self.call(Shutdown(after_current_job))

    def fetch_take(
        self,
        job_id: str,
        into: str | Path | None = None,
        *,
        progress: DownloadProgress | None = None,
    ) -> Take:
        """The take of the done job ``job_id``, its file reachable from this machine.

        From a remote daemon (``sends_media``) the take is downloaded into ``into`` (a file,
        or a folder for the take's own name), else the ``output_dir`` its submit named;
        ``take.path`` is then the local file. ``progress(bytes_done, size_bytes)`` follows the
        download (raise ``download.DownloadCancelled`` in it to stop; nothing partial stays
        unless it says ``keep_partial``); a download cut off resumes on the next call. A local
        daemon's take stays where it is.
        """
        job = self.get(job_id)
        if job.state is not JobState.DONE or not job.result_otio:
            raise XdubError(
                f"job {job_id} is {job.state.value}, it has no take",
                code=ErrorCode.BAD_STATE.value,
                hint="wait for the job to finish (or retry it if it failed)",
            )
        take = read_take(job.result_otio)
        if self.sends_media:
            path = self.media.download(job_id, into, progress)
            return dataclasses.replace(take, path=str(path))
        if not os.path.isfile(take.path):
            where = "the daemon's machine" if self.is_remote else "this machine"
            raise XdubError(
                f"the take of job {job_id} is not at {take.path} (looked on this machine; "
                f"the daemon wrote it on {where})",
                code=ErrorCode.BAD_MEDIA.value,
                hint="give the job an output_dir both machines share, or copy the take over",
            )
        return take

    # -- events ------------------------------------------------------------------------------

    def events(self, timeout_s: float, job_ids: Iterable[str] | None = None) -> Iterator[Received]:
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

    def watch(self, job_ids: Iterable[str] = (), *, refresh_s: float = 2.0) -> JobWatch:
        """A ``JobWatch`` following ``job_ids`` (more can be added)."""
        return JobWatch(self, job_ids, refresh_s=refresh_s)

    def wait(
        self,
        job_id: str,
        timeout_s: float = 3600.0,
        *,
        on_event: EventCallback | None = None,
        poll_s: float = 2.0,
    ) -> JobInfo:
        """Follow ``job_id`` until it is done, failed or cancelled; returns its final info.

        Events are passed to ``on_event``; missed ones are replayed (``JobWatch``). Raises
        ``timeout``, or ``daemon_not_running`` after ``reconnect_s`` without it.
        """
        deadline = time.monotonic() + timeout_s
        watch = self.watch([job_id], refresh_s=poll_s)
        watch.on_event = on_event
        while time.monotonic() < deadline:
            for update in watch.poll(min(poll_s, max(0.0, deadline - time.monotonic()))):
                if update.is_terminal:
                    return update.job if update.job is not None else self.get(job_id)
        raise ProtocolError(
            f"job {job_id} did not finish within {timeout_s:g} s", code=ErrorCode.TIMEOUT.value
        )
