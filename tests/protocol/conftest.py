"""Protocol test fixtures: the spec's JSON examples, and a stand-in daemon on real sockets."""

from __future__ import annotations

import json
import os
import queue
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

from xdub.errors import JobError
from xdub.protocol.connection import (
    ConnectionInfo,
    remove_connection_file,
    write_connection_file,
)
from xdub.protocol.messages import (
    CancelJob,
    CancelJobReply,
    ErrorReply,
    GetJob,
    GetJobReply,
    Hello,
    HelloReply,
    JobEvents,
    JobEventsReply,
    JobStateEvent,
    ProgressEvent,
    Settings,
    SettingsReply,
    WorkerHealthEvent,
)
from xdub.protocol.records import (
    DubOptions,
    ErrorInfo,
    JobInfo,
    JobState,
    Progress,
    Stage,
    WorkerState,
)
from xdub.protocol.schema import PROTOCOL_VERSION, Content, Event, negotiate_version
from xdub.protocol.signing import Message, RejectedMessage, Session
from xdub.protocol.zmq_transport import bind_server_sockets, publish

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
_EXAMPLE = re.compile(r"^```json (\S+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
NON_MESSAGE_TAGS = ("connection_file", "header")


def _doc_examples() -> list[tuple[str, str]]:
    return _EXAMPLE.findall(DOC_PATH.read_text(encoding="utf-8"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``doc_example``: one test per tagged ```json block, ``(tag, JSON text)``."""
    if "doc_example" in metafunc.fixturenames:
        examples = _doc_examples()
        metafunc.parametrize("doc_example", examples, ids=[tag for tag, _ in examples])


@pytest.fixture(scope="session")
def doc_text() -> str:
    return DOC_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def doc_table(doc_text: str) -> Callable[[str], list[list[str]]]:
    """``doc_table(heading)``: the body rows (cells stripped of backticks) of the first table
    after ``heading``."""

    def table(heading: str) -> list[list[str]]:
        rows = []
        for line in doc_text.split(heading, 1)[1].splitlines():
            if line.startswith("|"):
                rows.append([cell.strip().strip("`") for cell in line.strip("|").split("|")])
            elif rows:
                break
        return rows[2:]  # drop the head and the --- row

    return table


@pytest.fixture(scope="session")
def doc_examples() -> list[tuple[str, str]]:
    """``(tag, JSON text)`` of every tagged ```json block."""
    return _doc_examples()


@pytest.fixture(scope="session")
def message_examples() -> list[tuple[str, dict[str, Any]]]:
    """``(msg_type, content)`` of every documented message."""
    return [(tag, json.loads(body)) for tag, body in _doc_examples() if tag not in NON_MESSAGE_TAGS]


class EchoDaemon:
    """A stand-in daemon: real ROUTER + PUB sockets and a ``Session``, served by one thread.

    It binds first, then writes the connection file, like the real daemon. It answers
    ``hello`` (and publishes ``worker_health``), ``get`` (a job of ``jobs``, job id -> state, or
    ``unknown_job``), ``job_events`` (the job's numbered events in ``events``), ``cancel``
    (publishing ``job_state``) and ``settings`` (echoing the values); requests whose type is in
    ``ignore`` get no answer; ``protocol_version`` is the newest it speaks. ``set_state`` and
    ``add_progress`` record a job's next event, published or not (a dropped event), as the
    daemon stores every event before publishing.
    """

    def __init__(
        self,
        connection_file: Path,
        *,
        name: str,
        transport: str = "tcp",
        ipc_dir: Path | None = None,
        ignore: tuple[str, ...] = (),
        protocol_version: str = PROTOCOL_VERSION,
    ) -> None:
        self.name = name
        self.ignore = ignore
        self.protocol_version = protocol_version
        self.requests_seen: list[str] = []
        self.jobs: dict[str, JobState] = {"known": JobState.QUEUED}
        self.events: dict[str, list[JobStateEvent | ProgressEvent]] = {
            "known": [JobStateEvent("known", JobState.QUEUED, seq=1)]
        }
        self._outbox: queue.Queue[Event] = queue.Queue()
        self._context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self._router, self._pub, addresses = bind_server_sockets(
            self._context, transport, ipc_dir=ipc_dir
        )
        self.info = ConnectionInfo.create(
            transport,
            addresses.request_address,
            addresses.event_address,
            xdub_version=name,
            event_server_key=addresses.event_server_key,
        )
        self.session = Session(self.info.key_bytes)
        self.connection_file = write_connection_file(self.info, connection_file)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"echo-{name}")
        self._thread.start()

    @property
    def is_running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        """Stop serving, close the sockets and remove the connection file, as on a clean exit."""
        self._stop.set()
        self._thread.join()
        self._router.close(linger=0)
        self._pub.close(linger=0)
        self._context.term()
        remove_connection_file(self.connection_file)

    def set_state(self, job_id: str, state: JobState, *, publish: bool = False) -> None:
        """The job's next event: ``state`` (a done job's take is ``{}``, a failure generic)."""
        self.jobs[job_id] = state
        error = ErrorInfo("worker_crashed", "it broke") if state is JobState.FAILED else None
        result = "{}" if state is JobState.DONE else None
        seq = self._next_seq(job_id)
        self._record(
            JobStateEvent(job_id, state, error=error, result_otio=result, seq=seq), publish
        )

    def add_progress(self, job_id: str, fraction: float, *, publish: bool = False) -> None:
        """The job's next event: denoising progress at ``fraction``."""
        progress = Progress(Stage.DENOISE, 1, 1, 1, 1, fraction)
        self._record(ProgressEvent(job_id, progress, seq=self._next_seq(job_id)), publish)

    def republish(self, job_id: str) -> None:
        """Publish the job's last event again (a duplicate)."""
        self._outbox.put(self.events[job_id][-1])

    def _next_seq(self, job_id: str) -> int:
        return len(self.events.get(job_id, [])) + 1

    def _record(self, event: JobStateEvent | ProgressEvent, publish: bool) -> None:
        self.events.setdefault(event.job_id, []).append(event)
        if publish:
            self._outbox.put(event)  # the serving thread owns the PUB socket

    def _serve(self) -> None:
        while not self._stop.is_set():
            while not self._outbox.empty():
                self._publish(self._outbox.get())
            if not self._router.poll(20):
                continue
            try:
                request = self.session.deserialize(self._router.recv_multipart())
            except RejectedMessage as error:
                answer = self.session.rejection_reply(error)
                if answer is not None:
                    self._router.send_multipart(answer)
                continue
            self.requests_seen.append(request.msg_type)
            if request.msg_type not in self.ignore:
                self._answer(request)

    def _send(self, request: Message, content: Content) -> None:
        self._router.send_multipart(self.session.reply(request, content))

    def _publish(self, event: Event) -> None:
        publish(self._pub, self.session, event)

    def _answer(self, request: Message) -> None:
        content = request.content
        if isinstance(content, Hello):
            version = negotiate_version(content.protocol_version, self.protocol_version)
            self._send(request, HelloReply(version, self.name, os.getpid(), "cpu", False))
            self._publish(WorkerHealthEvent(state=WorkerState.IDLE, pid=None, device="cpu"))
        elif isinstance(content, GetJob) and content.job_id in self.jobs:
            self._send(request, GetJobReply(job=_job(content.job_id, self.jobs[content.job_id])))
        elif isinstance(content, JobEvents) and content.job_id in self.jobs:
            events = [
                e for e in self.events.get(content.job_id, []) if (e.seq or 0) > content.after_seq
            ]
            states = tuple(e for e in events if isinstance(e, JobStateEvent))
            progress = tuple(e for e in events if isinstance(e, ProgressEvent))
            last_seq = len(self.events.get(content.job_id, []))
            self._send(request, JobEventsReply(content.job_id, last_seq, states, progress))
        elif isinstance(content, (GetJob, JobEvents)):
            error = JobError(f"no job {content.job_id!r}", code="unknown_job", hint="list jobs")
            self._send(request, ErrorReply.from_exception(error))
        elif isinstance(content, CancelJob):
            self.set_state(content.job_id, JobState.CANCELLED)
            self._publish(self.events[content.job_id][-1])
            self._send(request, CancelJobReply(content.job_id, JobState.CANCELLED))
        elif isinstance(content, Settings):
            self._send(request, SettingsReply(settings={**content.values, "daemon": self.name}))


def _job(job_id: str, state: JobState = JobState.QUEUED) -> JobInfo:
    return JobInfo(
        job_id=job_id,
        name="Scene 1",
        state=state,
        created_at="2026-03-14T09:26:53Z",
        updated_at="2026-03-14T09:26:53Z",
        options=DubOptions(),
    )


@pytest.fixture
def echo_daemon(tmp_path: Path) -> Iterator[Callable[..., EchoDaemon]]:
    """A factory of ``EchoDaemon``s writing ``tmp_path/run/daemon.json``; all stopped after."""
    started: list[EchoDaemon] = []

    def start(name: str = "A", **options: Any) -> EchoDaemon:
        daemon = EchoDaemon(tmp_path / "run" / "daemon.json", name=name, **options)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        if daemon.is_running:
            daemon.stop()


@pytest.fixture
def client_context() -> Iterator[zmq.Context[zmq.Socket[bytes]]]:
    """A ZeroMQ context of the test's own, terminated after it (sockets must be closed)."""
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    yield context
    context.term()
