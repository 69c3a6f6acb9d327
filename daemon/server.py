"""The daemon: a ZeroMQ loop over the request ROUTER and the worker's pipe, with a dispatch
table ``{msg_type: handler}``, events on PUB, and the job store.

Start-up order: the per-user lock, the store (jobs left ``running`` go back to the queue and
resume from their checkpoint), the sockets, and only then the connection file (0600, atomic).
Every request is checked by ``Session`` (rejections are logged with reason and peer and never
end the loop); every handler returns a reply content or raises an ``XdubError``, answered as
the uniform error reply. A clean exit removes the connection file.
"""

from __future__ import annotations

import dataclasses
import errno
import itertools
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import zmq

from xdub import __version__
from xdub.errors import JobError, ProtocolError, XdubError
from xdub.media.codecs import VIDEO_CODECS
from xdub.media.encode import remove_partials
from xdub.protocol.connection import (
    ConnectionInfo,
    remove_connection_file,
    write_connection_file,
)
from xdub.protocol.messages import (
    CancelJob,
    CancelJobReply,
    DeleteJob,
    DeleteJobReply,
    ErrorReply,
    GetJob,
    GetJobReply,
    Hello,
    HelloReply,
    JobEvents,
    JobEventsReply,
    JobStateEvent,
    ListJobs,
    ListJobsReply,
    MakeFinal,
    MakeFinalReply,
    Models,
    ProgressEvent,
    RetryJob,
    RetryJobReply,
    Settings,
    Shutdown,
    ShutdownReply,
    Submit,
    SubmitReply,
    WorkerHealthEvent,
)
from xdub.protocol.records import ErrorInfo, JobInfo, JobState
from xdub.protocol.schema import Content, Event, negotiate_version
from xdub.protocol.signing import Message, RejectedMessage, Session
from xdub.protocol.zmq_transport import (
    ServerAddresses,
    bind_server_sockets,
    remove_ipc_files,
)
from xdub_daemon.backend import make_backend
from xdub_daemon.config import DaemonConfig
from xdub_daemon.final import make_final
from xdub_daemon.jobs import Job, state_event
from xdub_daemon.lock import DaemonLock
from xdub_daemon.logs import JobLog
from xdub_daemon.manage import ModelsDesk, SettingsDesk, stored_config
from xdub_daemon.remote_identity import load_or_create_identity
from xdub_daemon.store import JobStore
from xdub_daemon.submit import add_job, existing_job
from xdub_daemon.supervisor import WorkerExit
from xdub_daemon.transfers import TransferDesk
from xdub_daemon.uploads import UploadStore
from xdub_daemon.validator import SubmitValidator, ValidationResult
from xdub_daemon.wire import (
    CancelledReport,
    DoneReport,
    FailedReport,
    FatalReport,
    FromWorker,
    ProgressReport,
    ReadyReport,
    ResumedReport,
    WindowReport,
    WorkerSpec,
)
from xdub_daemon.worker import take_path

log = logging.getLogger(__name__)

POLL_INTERVAL_MS = 200
MAX_JOBS_SCANNED = 100_000
"""Every stored job, at start (retention keeps far fewer)."""
Handler = Callable[[Message], Content | None]
C = TypeVar("C", bound=Content)


def content_of(request: Message, kind: type[C]) -> C:
    """``request``'s content, typed as the ``kind`` its ``msg_type`` names."""
    content = request.content
    if not isinstance(content, kind):
        raise ProtocolError(
            f"a {request.msg_type} carries {type(content).__name__}", code="bad_content"
        )
    return content


"""A handler's reply content, or None when the reply is sent later (``submit``)."""


class Daemon:
    """One daemon run: ``serve()`` blocks until a shutdown request or SIGTERM/SIGINT."""

    def __init__(self, config: DaemonConfig) -> None:
        self._lock = DaemonLock(config.lock_path)
        self.store = JobStore(config.store_path, config.jobs_dir)
        config = stored_config(config, self.store)
        self.config = config
        for job in self.store.requeue_running():
            log.info("job %s was running when the daemon stopped; it resumes", job.job_id)
        self.store.prune(config.retention)
        for job in self.store.list_jobs(limit=MAX_JOBS_SCANNED):
            remove_partials(self._take_path(job))  # no worker runs yet: every partial is stale
        self.supervisor = make_backend(config)  # a worker process, or Ray actors
        self.models = ModelsDesk(
            config.model_dir, config.model_source, max_bps=config.model_max_bps
        )
        self.settings = SettingsDesk(config, self.store)
        self.validator = SubmitValidator()
        self._tokens = itertools.count()
        self._validating: dict[int, Message] = {}
        """Submits in the validator, by token, answered once it is done."""
        self.clients: dict[str, str] = {}
        """Session id -> the client name its hello gave."""
        self.load_error: ErrorInfo | None = None
        self._stopping = False
        self._stop_after_job = False
        self._last_health_s = 0.0
        self.handlers: dict[str, Handler] = {
            Hello.MSG_TYPE: self.on_hello,
            Submit.MSG_TYPE: self.on_submit,
            ListJobs.MSG_TYPE: self.on_list,
            GetJob.MSG_TYPE: self.on_get,
            CancelJob.MSG_TYPE: self.on_cancel,
            RetryJob.MSG_TYPE: self.on_retry,
            MakeFinal.MSG_TYPE: self.on_make_final,
            DeleteJob.MSG_TYPE: self.on_delete,
            Models.MSG_TYPE: lambda request: self.models.handle(content_of(request, Models)),
            Settings.MSG_TYPE: lambda request: self.settings.handle(content_of(request, Settings)),
            Shutdown.MSG_TYPE: self.on_shutdown,
            JobEvents.MSG_TYPE: self.on_job_events,
        }
        uploads = UploadStore(config.uploads_dir, max_upload_bytes=config.max_upload_bytes)
        self.transfers = TransferDesk(self.store, uploads)
        self.transfers.prune(config.retention)
        self.handlers.update(self.transfers.handlers())

    # -- the loop ----------------------------------------------------------------------------

    def serve(self) -> None:
        """Bind, publish the connection file, start the worker, and serve until stopped."""
        context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        identity = None
        if self.config.remote:
            identity = load_or_create_identity(self.config.identity_path)
        router, self.pub, addresses = bind_server_sockets(
            context,
            self.config.transport,
            ip=self.config.ip,
            allow_lan=self.config.allow_lan,
            ipc_dir=self.config.connection_file.parent,
            port=self.config.port,
            server_keys=identity.curve if identity else None,
        )
        self.addresses: ServerAddresses = addresses
        info = ConnectionInfo.create(
            addresses.transport,
            addresses.request_address,
            addresses.event_address,
            xdub_version=__version__,
            event_server_key=addresses.event_server_key,
            request_server_key=addresses.request_server_key,
            key=identity.key if identity else "",
        )
        self.session = Session(info.key_bytes)
        write_connection_file(info, self.config.connection_file)
        signals = (signal.SIGTERM, signal.SIGINT)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in signals}
        try:
            self.validator.start()
            self.supervisor.start()
            self._loop(router)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._close(router, context)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: shutting down", signum)
        self._stopping = True

    def _loop(self, router: zmq.Socket[bytes]) -> None:
        while not self._stopping:
            poller = zmq.Poller()
            poller.register(router, zmq.POLLIN)
            worker_fd = self.supervisor.fileno()
            if worker_fd is not None:
                poller.register(worker_fd, zmq.POLLIN)
            validator_fd = self.validator.fileno()
            if validator_fd is not None:
                poller.register(validator_fd, zmq.POLLIN)
            try:
                ready = dict(poller.poll(POLL_INTERVAL_MS))
            except zmq.ZMQError as error:
                if error.errno == errno.EINTR:
                    continue
                raise
            if router in ready:
                self._serve_requests(router)
            self._finish_submits(router)
            self._handle_worker()
            self._dispatch()
            for event in self.models.pending_events():
                self._publish(event)
            self._publish_health(periodic=True)

    def _close(self, router: zmq.Socket[bytes], context: zmq.Context[zmq.Socket[bytes]]) -> None:
        running = self.supervisor.job_ids
        self.supervisor.stop()
        self.validator.stop()
        for job_id in running:
            if self.store.get(job_id).state is JobState.RUNNING:
                self._change(job_id, JobState.QUEUED, keep_place=True)
        self._publish_health()
        remove_connection_file(self.config.connection_file, pid=os.getpid())
        router.close(linger=0)
        self.pub.close(linger=200)
        context.term()
        remove_ipc_files(self.addresses)
        self.store.close()
        self._lock.release()
        log.info("the daemon stopped")

    def _serve_requests(self, router: zmq.Socket[bytes]) -> None:
        for _ in range(1000):  # bounded, so the worker is never starved
            try:
                frames = router.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                answer = self.answer(frames)
            except Exception:  # a reply that cannot be built must never end the loop
                log.exception("could not answer a message; it is dropped")
                continue
            if answer is not None:
                router.send_multipart(answer)

    def answer(self, frames: list[bytes]) -> list[bytes] | None:
        """The reply frames to one received message, or None for a message that gets none."""
        try:
            request = self.session.deserialize(frames)
        except RejectedMessage as rejection:
            return self.session.rejection_reply(rejection)
        handler = self.handlers.get(request.msg_type)
        if handler is None:  # a reply or an event sent to the request socket
            peer = request.identities[0].hex() if request.identities else "-"
            log.warning("dropped a %s from %s on the request socket", request.msg_type, peer)
            return None
        try:
            content = handler(request)
            if content is None:
                return None  # answered later
        except XdubError as error:
            log.info("%s failed: %s", request.msg_type, error.code)
            content = ErrorReply.from_exception(error)
        except Exception:
            log.exception("%s: internal error", request.msg_type)
            content = ErrorReply(
                ErrorInfo("internal", f"the daemon failed on {request.msg_type}", "see its log")
            )
        return self.session.reply(request, content)

    def _publish(self, event: Event, parent: Any = None) -> None:
        topic = event.MSG_TYPE.encode("ascii")
        frames = self.session.serialize(event.MSG_TYPE, event, parent=parent, identities=[topic])
        self.pub.send_multipart(frames)

    # -- requests ----------------------------------------------------------------------------

    def on_hello(self, request: Message) -> Content:
        hello = content_of(request, Hello)
        version = negotiate_version(hello.protocol_version)
        self.clients[request.header.session] = hello.client_name
        return HelloReply(
            protocol_version=version,
            xdub_version=__version__,
            pid=os.getpid(),
            device=self.supervisor.device,
            models_ready=self.models.is_ready,
        )

    def on_submit(self, request: Message) -> Content | None:
        content_of(request, Submit)
        request = self.transfers.resolve_submit(request)  # uploads -> the daemon's files
        submit = content_of(request, Submit)
        job = existing_job(self.store, submit)
        if job is not None:
            return SubmitReply(job.job_id, job.state, self.store.queue_position(job.job_id))
        token = next(self._tokens)
        self._validating[token] = request
        output_dir = submit.options.output_dir
        take_folder = Path(output_dir) if output_dir else self.store.jobs_dir
        self.validator.validate(token, submit.otio, submit.options, take_folder)
        return None

    def _finish_submits(self, router: zmq.Socket[bytes]) -> None:
        """Answer the submits the validator is done with (a new job is queued then)."""
        for token, result in self.validator.receive():
            request = self._validating.pop(token)
            try:
                content = self._accept(request, result)
            except XdubError as error:
                content = ErrorReply.from_exception(error)
            router.send_multipart(self.session.reply(request, content))

    def _accept(self, request: Message, result: ValidationResult) -> Content:
        if isinstance(result, ErrorInfo):
            log.info("submit refused: %s", result.code)
            return ErrorReply(result)
        submit = content_of(request, Submit)
        job = existing_job(self.store, submit)  # resent while it was validated
        if job is None:
            client = self.clients.get(request.header.session, "unknown")
            job = add_job(self.store, submit, result, client=client)
            self.load_error = None  # a new job is worth another try at loading the models
            self._publish(state_event(job, None), request.header)
        return SubmitReply(job.job_id, job.state, self.store.queue_position(job.job_id))

    def on_list(self, request: Message) -> Content:
        query = content_of(request, ListJobs)
        jobs = self.store.list_jobs(query.states, query.limit)
        return ListJobsReply(tuple(self._info(job) for job in jobs))

    def on_get(self, request: Message) -> Content:
        query = content_of(request, GetJob)
        return GetJobReply(self._info(self.store.get(query.job_id)))

    def _info(self, job: Job) -> JobInfo:
        """``job``'s info, with the farm actor that runs it."""
        runner = self.supervisor.runner_of(job.job_id)
        return dataclasses.replace(job.info(), runner=runner) if runner else job.info()

    def on_cancel(self, request: Message) -> Content:
        cancel = content_of(request, CancelJob)
        job = self.store.get(cancel.job_id)
        if job.state.is_terminal:
            raise JobError(f"job {job.job_id} is already {job.state.value}", code="bad_state")
        self.supervisor.cancel(job.job_id)  # it stops within one denoising step
        job = self._change(job.job_id, JobState.CANCELLED, parent=request.header)
        return CancelJobReply(job.job_id, job.state)

    def on_retry(self, request: Message) -> Content:
        retry = content_of(request, RetryJob)
        job = self._change(retry.job_id, JobState.QUEUED, parent=request.header)
        self.load_error = None
        return RetryJobReply(job.job_id, job.state)

    def on_make_final(self, request: Message) -> Content:
        make: MakeFinal = request.content  # type: ignore[assignment]
        client = self.clients.get(request.header.session, "unknown")
        job = make_final(self.store, make.job_id, client=client)
        self._publish(state_event(job, None), request.header)
        return MakeFinalReply(job.job_id, make.job_id, job.state)

    def on_delete(self, request: Message) -> Content:
        delete = content_of(request, DeleteJob)
        self.store.delete(delete.job_id, delete_files=delete.delete_files)
        return DeleteJobReply(delete.job_id)

    def on_job_events(self, request: Message) -> Content:
        query: JobEvents = request.content  # type: ignore[assignment]
        last_seq, events = self.store.job_events(query.job_id, query.after_seq)
        states = tuple(event for event in events if isinstance(event, JobStateEvent))
        progress = tuple(event for event in events if isinstance(event, ProgressEvent))
        return JobEventsReply(query.job_id, last_seq, states, progress)

    def on_shutdown(self, request: Message) -> Content:
        shutdown = content_of(request, Shutdown)
        if shutdown.after_current_job and self.supervisor.job_ids:
            self._stop_after_job = True
        else:
            self._stopping = True
        return ShutdownReply()

    # -- jobs and the worker -----------------------------------------------------------------

    def _change(
        self, job_id: str, new_state: JobState, *, parent: Any = None, **fields: Any
    ) -> Job:
        previous = self.store.get(job_id).state
        job = self.store.change_state(job_id, new_state, **fields)
        JobLog(log, job_id).info("%s -> %s", previous.value, new_state.value)
        self._publish(state_event(job, previous), parent)
        return job

    def _dispatch(self) -> None:
        if self._stopping or self._stop_after_job or self.settings.queue_paused:
            return
        queue = self.store.queue()
        if not queue:
            return
        if self.load_error is not None:
            job = queue[0]
            self._change(job.job_id, JobState.RUNNING)
            self._change(job.job_id, JobState.FAILED, error=self.load_error)
            return
        if self.supervisor.fileno() is None:  # stopped or crashed: start a fresh one
            self.supervisor.start()
            self._publish_health()
        if not self.supervisor.is_idle:
            return
        job = queue[0]
        spec = WorkerSpec(
            job_id=job.job_id,
            otio=job.otio,
            options=job.options.to_json(),
            job_dir=self.store.job_dir(job.job_id),
            output=self._take_path(job),
            vram_policy=self.settings.vram_policy,
        )
        self._change(job.job_id, JobState.RUNNING)
        self.supervisor.run(spec)
        self._publish_health()

    def _take_path(self, job: Job) -> Path:
        output_dir = job.options.output_dir
        folder = Path(output_dir) if output_dir else self.store.jobs_dir / job.job_id
        suffix = VIDEO_CODECS[job.options.codec.value].suffixes[0]
        return take_path(job.name, job.job_id, folder, suffix)

    def _handle_worker(self) -> None:
        job_id = self.supervisor.job_id
        for report in self.supervisor.receive():
            if isinstance(report, WorkerExit):
                self._on_worker_exit(job_id, report)
            else:
                self._on_report(report)
                job_id = self.supervisor.job_id

    def _is_running(self, job_id: str) -> bool:
        job = self.store.find(job_id)
        return job is not None and job.state is JobState.RUNNING

    def _on_report(self, report: FromWorker) -> None:
        if isinstance(report, (ReadyReport, FatalReport)):
            if isinstance(report, FatalReport):
                self.load_error = report.error
                self.models.load_failed(report.error)
            else:
                self.models.loaded()
            self._publish_health()
            return
        job_id = report.job_id
        if not self._is_running(job_id):
            return  # cancelled meanwhile: the worker's late reports are ignored
        if isinstance(report, ProgressReport):
            self._publish(self.store.set_progress(job_id, report.progress))
        elif isinstance(report, WindowReport):
            self.store.set_windows_done(job_id, report.windows_done)
        elif isinstance(report, ResumedReport):
            log.info("job %s resumed from window %d", job_id, report.windows_done)
        elif isinstance(report, DoneReport):
            self._change(
                job_id,
                JobState.DONE,
                result_otio=report.result_otio,
                warnings=report.warnings,
                quality=report.quality,
            )
            self.store.prune(self.config.retention)
            self.transfers.prune(self.config.retention)
        elif isinstance(report, FailedReport):
            self._change(job_id, JobState.FAILED, error=report.error)
        elif isinstance(report, CancelledReport):
            self._change(job_id, JobState.CANCELLED)
        if isinstance(report, (DoneReport, FailedReport, CancelledReport)):
            self._publish_health()
            if self._stop_after_job and not self.supervisor.job_ids:
                self._stopping = True

    def _on_worker_exit(self, job_id: str | None, exit: WorkerExit) -> None:
        self._publish_health(message=f"the worker exited with code {exit.exitcode}")
        if job_id is not None:
            remove_partials(self._take_path(self.store.get(job_id)))  # killed while writing
        if job_id is not None and self._is_running(job_id):
            error = ErrorInfo(
                "worker_crashed",
                f"the GPU worker process died (exit code {exit.exitcode}) during job {job_id}",
                "retry the job: it resumes from its last finished window; the daemon's log "
                "folder has worker.log",
            )
            self._change(job_id, JobState.FAILED, error=error)
        if not exit.was_ready and self.load_error is None:  # no restart loop at start-up
            self.load_error = ErrorInfo(
                "worker_crashed",
                f"the GPU worker exited with code {exit.exitcode} while loading the models",
                "see worker.log in the daemon's log folder; submit or retry to try again",
            )
        if not self._stopping and self.load_error is None:
            self.supervisor.start()  # the queue goes on with a fresh worker
            self._publish_health()

    def _publish_health(self, *, periodic: bool = False, message: str | None = None) -> None:
        now = time.monotonic()
        if periodic and now - self._last_health_s < self.config.health_interval_s:
            return
        self._last_health_s = now
        event = WorkerHealthEvent(
            self.supervisor.state,
            self.supervisor.pid,
            self.supervisor.device,
            message=message
            or (self.load_error.message if self.load_error else self.supervisor.message),
            actors_alive=self.supervisor.actors_alive,
        )
        self._publish(event)
