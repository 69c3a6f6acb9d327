"""``DaemonClient``: the one client of the xdub daemon (CLI, tray, Resolve and Blender plugins).

Stdlib-only and Python 3.10-compatible: the hosts' Pythons get a copy of this module. Under it
is a transport: the protocol over pyzmq (``zmq_transport.ClientTransport``) where ``zmq``
imports, else ``xdub bridge`` run by the daemon's own Python (``bridge_transport``). Both find
the daemon through the connection file and follow it when it restarts. The client turns error
replies into the ``XdubError`` of their code.

``watch`` follows jobs without blocking (a host's UI thread or timer calls ``JobWatch.poll``):
it takes in events and reports them as ``JobUpdate`` records, each ``seq`` once and in order:
the events a client missed (it subscribed late, the daemon restarted, a slow subscriber's
queue dropped some) are replayed with ``job_events`` when a ``seq`` jumps, after every
reconnect and every ``refresh_s`` (an older daemon's jobs are re-read instead). While the
daemon is away it keeps trying for ``reconnect_s``. ``wait`` is ``watch`` for one job,
blocking. ``fetch_take`` reads a done job's take (``takes.read_take``) and checks that its file
can be reached from here.

Media travel with the job when the connection file is a remote one (a ``--listen`` daemon's,
whose requests are CURVE-encrypted: ``sends_media``): ``submit`` uploads the files the job
references (``transfer.upload_job_media``; content the daemon holds already is not sent) and
names them by hash, and ``fetch_take`` downloads the take into the place the caller asked
for. A loopback daemon's connection reads the paths themselves (no copy).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

from xdub.errors import ProtocolError, XdubError
from xdub.protocol.connection import (
    default_connection_path,
    find_daemon,
    is_local,
    read_connection_file,
)
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
    ErrorInfo,
    JobInfo,
    JobState,
    ModelAction,
    ModelInfo,
    Progress,
    SettingsAction,
)
from xdub.protocol.schema import Content, parse_version
from xdub.protocol.takes import Take, read_take
from xdub.protocol.transfer import TransferStats, Uploader, download_take, upload_job_media
from xdub.protocol.transfer_messages import DEFAULT_CHUNK_BYTES

log = logging.getLogger(__name__)

TRANSFER_VERSION = (1, 4)
"""The protocol version that carries media (``upload_status`` ...)."""
RECONNECT_CODES = (ErrorCode.DAEMON_NOT_RUNNING.value, ErrorCode.TIMEOUT.value)
"""Errors that mean "the daemon is away (for now)": a client reconnects after them."""
JOB_EVENTS_VERSION = (1, 2)
"""The protocol version that numbers job events (``seq``) and replays them (``job_events``)."""


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
        self.chunk_bytes = chunk_bytes
        self.last_transfer = TransferStats()
        """What the last upload (``submit``) or download (``fetch_take``) moved."""
        self._take_folders: dict[str, str] = {}
        """Job id -> the ``output_dir`` its submit asked for, where ``fetch_take`` downloads."""
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
            otio_json = self.upload_media(otio_json)
            if options.output_dir:
                self._take_folders[job_id] = options.output_dir
            options = dataclasses.replace(options, output_dir=None)
        request = Submit(job_id, otio_json, options, priority)
        return cast(SubmitReply, self.call(request))

    def upload_media(self, otio_json: str) -> str:
        """Upload the files the job ``otio_json`` references; returns it naming them by
        hash (``xdub-upload:<sha256>``). ``last_transfer`` says what was sent."""
        self._require_transfer()
        uploader = self.uploader()
        otio_json = upload_job_media(uploader, otio_json)
        self.last_transfer = uploader.stats
        return otio_json

    def uploader(self) -> Uploader:
        """The ``Uploader`` ``upload_media`` uses (a new one per call)."""
        return Uploader(self.call, self.chunk_bytes)

    def _require_transfer(self) -> None:
        daemon = self.daemon or self.hello()
        if parse_version(daemon.protocol_version) < TRANSFER_VERSION:
            raise ProtocolError(
                f"the daemon speaks protocol {daemon.protocol_version}, which cannot carry "
                "media to another machine",
                code=ErrorCode.UNSUPPORTED_VERSION.value,
                hint="update xdub on the daemon's machine to the version of this one",
            )

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

    def fetch_take(self, job_id: str, into: str | Path | None = None) -> Take:
        """The take of the done job ``job_id``, its file reachable from this machine.

        From a remote daemon (``sends_media``) the take is downloaded into ``into`` (a file,
        or a folder for the take's own name), else the ``output_dir`` its submit named;
        ``take.path`` is then the local file. A local daemon's take stays where it is.
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
            return dataclasses.replace(take, path=str(self._download(job_id, into)))
        if not os.path.isfile(take.path):
            where = "the daemon's machine" if self.is_remote else "this machine"
            raise XdubError(
                f"the take of job {job_id} is not at {take.path} (looked on this machine; "
                f"the daemon wrote it on {where})",
                code=ErrorCode.BAD_MEDIA.value,
                hint="give the job an output_dir both machines share, or copy the take over",
            )
        return take

    def _download(self, job_id: str, into: str | Path | None) -> Path:
        folder = self._take_folders.get(job_id)
        target = into if into is not None else folder
        if target is None:
            raise XdubError(
                f"where should the take of job {job_id} go? The daemon is on another machine",
                code=ErrorCode.BAD_OUTPUT_PATH.value,
                hint="name a file or folder on this machine (fetch_take's into)",
            )
        self._require_transfer()
        path, self.last_transfer = download_take(
            self.call, job_id, Path(target), self.chunk_bytes, into_folder=into is None
        )
        return path

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


@dataclass(frozen=True)
class JobUpdate:
    """What changed about a watched job.

    ``state`` is ``None`` when only the progress moved. ``seq`` is the event's number (``None``
    from a daemon older than 1.2); ``job`` is the stored job when the update comes from reading
    it (older daemons only), and ``replayed`` says the change happened while the client was not
    listening. ``error`` is the job's failure, or the request's (e.g. the job is unknown) with
    ``state`` ``None``.
    """

    job_id: str
    state: JobState | None = None
    progress: Progress | None = None
    error: ErrorInfo | None = None
    result_otio: str | None = None
    job: JobInfo | None = None
    replayed: bool = False
    seq: int | None = None

    @property
    def is_terminal(self) -> bool:
        return self.state is not None and self.state.is_terminal


def _error_info(error: XdubError) -> ErrorInfo:
    return ErrorInfo(error.code, error.message, error.hint)


def _current_run_start(events: list[JobStateEvent | ProgressEvent]) -> int:
    """Where the job's current run begins in ``events`` (in ``seq`` order): after the last
    terminal state that a later event follows. A retried job's earlier run ended there, and
    its ``cancelled`` or ``failed`` must not end a watch of the run the retry started."""
    for index in range(len(events) - 2, -1, -1):
        event = events[index]
        if isinstance(event, JobStateEvent) and event.state.is_terminal:
            return index + 1
    return 0


class JobWatch:
    """Follows jobs through events, catch-ups and daemon restarts; never blocks long.

    ``poll(timeout_s)`` returns the updates of up to ``timeout_s``; a job leaves the watch
    once its terminal update was returned. ``connected`` and ``last_error`` describe the link.

    Against a 1.2+ daemon every ``job_state`` and ``progress`` event of a watched job is
    reported once, in ``seq`` order: the first catch-up replays the job's kept events
    (``job_events``); a live event whose ``seq`` jumps, every reconnect and every ``refresh_s``
    ask ``job_events`` for the ones after the last reported (``replayed`` updates); a live event
    already reported is dropped. A finished job's replay skips its progress events (the daemon
    drops them), and a retried job's replay skips the run that ended before the retry. An
    older daemon has no event numbers: its jobs' stored state is re-read.
    """

    def __init__(
        self, client: DaemonClient, job_ids: Iterable[str] = (), *, refresh_s: float = 2.0
    ) -> None:
        self.client = client
        self.refresh_s = refresh_s
        self.on_event: EventCallback | None = None
        self.connected = False
        self.last_error: XdubError | None = None
        self._seen: dict[str, tuple[Any, ...]] = {}
        self._last_seq: dict[str, int] = {}
        self._watched: set[str] = set()
        self._next_refresh = 0.0
        self._down_since: float | None = None
        for job_id in job_ids:
            self.add(job_id)

    @property
    def job_ids(self) -> frozenset[str]:
        return frozenset(self._watched)

    def add(self, job_id: str) -> None:
        """Follow ``job_id`` too; its stored state is read on the next ``poll``."""
        self._watched.add(job_id)
        self._next_refresh = 0.0

    def discard(self, job_id: str) -> None:
        self._watched.discard(job_id)
        self._seen.pop(job_id, None)
        self._last_seq.pop(job_id, None)

    def poll(self, timeout_s: float) -> list[JobUpdate]:
        """Updates within ``timeout_s``; while the daemon is away, ``[]`` (it retries)."""
        if not self._watched:
            time.sleep(timeout_s)
            return []
        updates: list[JobUpdate] = []
        try:
            if not self.connected or time.monotonic() >= self._next_refresh:
                updates += self._catch_up(reconnected=not self.connected and self._seen != {})
            for event in self.client.events(timeout_s, self._watched):
                if self.on_event is not None:
                    self.on_event(event)
                updates += self._take_live(event.content)
        except XdubError as error:
            if error.code not in RECONNECT_CODES:
                raise
            self._lost(error)
            time.sleep(min(timeout_s, 0.5))
        return [update for update in updates if self._keep(update)]

    def _lost(self, error: XdubError) -> None:
        now = time.monotonic()
        self._down_since = self._down_since or now
        self.connected, self.last_error = False, error
        self.client.transport.close()
        if now - self._down_since > self.client.reconnect_s:
            raise error
        log.info("the daemon is not answering (%s); trying again", error.code)

    def _catch_up(self, *, reconnected: bool) -> list[JobUpdate]:
        """What the watch may have missed: each job's events after the last one reported, or
        (a daemon without ``job_events``) its stored state."""
        daemon = self.client.daemon or self.client.hello()
        if parse_version(daemon.protocol_version) < JOB_EVENTS_VERSION:
            return self._refresh(replayed=reconnected)
        updates = []
        for job_id in sorted(self._watched):
            updates += self._replay(job_id)
        self._connected_now()
        return updates

    def _replay(self, job_id: str) -> list[JobUpdate]:
        """The kept events of ``job_id`` after the last one reported, in ``seq`` order; they
        count as replayed once the watch has reported any of the job's events."""
        replayed = job_id in self._last_seq
        last = self._last_seq.get(job_id, 0)
        try:
            reply = self.client.job_events(job_id, last)
        except XdubError as error:
            if error.code in RECONNECT_CODES:
                raise
            return [JobUpdate(job_id, error=_error_info(error))]
        kept: list[JobStateEvent | ProgressEvent] = [*reply.job_states, *reply.progress]
        events = sorted(kept, key=lambda event: event.seq or 0)
        missed = [event for event in events if (event.seq or 0) > last]
        self._last_seq[job_id] = max([last, reply.last_seq, *(e.seq or 0 for e in missed)])
        current = missed[_current_run_start(missed) :]
        return [self._from_event(event, replayed=replayed) for event in current]

    def _take_live(self, content: Content) -> list[JobUpdate]:
        """A live event's update, after the events a jump in its ``seq`` skipped; none for
        an event already reported."""
        if not isinstance(content, (JobStateEvent, ProgressEvent)):
            return []
        seq, last = content.seq, self._last_seq.get(content.job_id)
        if seq is None or last is None:
            if seq is not None:
                self._last_seq[content.job_id] = seq
            return [self._from_event(content)]
        if seq <= last:
            return []
        if seq == last + 1:
            self._last_seq[content.job_id] = seq
            return [self._from_event(content)]
        return self._replay(content.job_id)  # the daemon stored the event before publishing it

    def _connected_now(self) -> None:
        self.connected, self.last_error, self._down_since = True, None, None
        self._next_refresh = time.monotonic() + self.refresh_s

    def _refresh(self, *, replayed: bool) -> list[JobUpdate]:
        updates = []
        for job_id in sorted(self._watched):
            try:
                job = self.client.get(job_id)
            except XdubError as error:
                if error.code in RECONNECT_CODES:
                    raise
                updates.append(JobUpdate(job_id, error=_error_info(error)))
                continue
            updates.append(
                JobUpdate(
                    job_id,
                    state=job.state,
                    progress=job.progress,
                    error=job.error,
                    result_otio=job.result_otio,
                    job=job,
                    replayed=replayed,
                )
            )
        self._connected_now()
        return updates

    @staticmethod
    def _from_event(content: JobStateEvent | ProgressEvent, *, replayed: bool = False) -> JobUpdate:
        if isinstance(content, ProgressEvent):
            return JobUpdate(
                content.job_id, progress=content.progress, replayed=replayed, seq=content.seq
            )
        return JobUpdate(
            content.job_id,
            state=content.state,
            error=content.error,
            result_otio=content.result_otio,
            replayed=replayed,
            seq=content.seq,
        )

    def _keep(self, update: JobUpdate) -> bool:
        """Drop repeats (a re-read that changed nothing); forget jobs that ended."""
        if update.job_id not in self._watched:
            return False
        if update.state is None and update.error is not None:
            self.discard(update.job_id)  # the request failed: the job is unknown
            return True
        last = self._seen.get(update.job_id, (None, None))
        state = update.state if update.state is not None else last[0]
        progress = update.progress if update.progress is not None else last[1]
        if (state, progress) == last and update.job is not None:
            return False
        self._seen[update.job_id] = (state, progress)
        if update.is_terminal:
            self.discard(update.job_id)
        return True
