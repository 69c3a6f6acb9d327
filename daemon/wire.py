"""The worker pipe's messages, and the one class that owns the pipe (both of its ends).

The server sends ``RunOrder``, ``CancelOrder`` and ``StopOrder``; the worker answers with
``ReadyReport`` or ``FatalReport`` once, then for each run ``ProgressReport``, ``WindowReport``,
``ResumedReport`` and one of ``DoneReport``, ``FailedReport``, ``CancelledReport`` (or, for
one part of a split take on a farm, ``PartDoneReport``: ``xdub_daemon.farm_split``). Messages
are frozen dataclasses pickled by ``multiprocessing``; ``WorkerPipe.receive`` refuses anything
else, so a handler tells them apart by class and reads typed fields.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Generic, TypeVar, cast, get_args

from xdub.protocol.records import ErrorInfo, Progress, TakeQuality, VramPolicy
from xdub.sample.segments import SegmentPlan


@dataclass(frozen=True)
class PlanPart:
    """A split take's first part (``xdub_daemon.farm_split``): find its segments, at most
    ``max_segments`` of ``min_windows`` windows or more, and keep the face track and audio
    features in the job folder for the other parts."""

    max_segments: int
    min_windows: int


@dataclass(frozen=True)
class SegmentPart:
    """Denoise windows ``[first, stop)`` of a split take (checkpointed in their own folder)."""

    first: int
    stop: int


@dataclass(frozen=True)
class AssemblePart:
    """A split take's last part: decode, paste and write the take from the segments'
    checkpoints (then the job is done as any other)."""

    plan: SegmentPlan


JobPart = PlanPart | SegmentPart | AssemblePart


@dataclass(frozen=True)
class WorkerSpec:
    """One job for the worker: the OTIO, options (protocol JSON), its folder and take path;
    ``part``: one part of a split take on a farm, or None for the whole job."""

    job_id: str
    otio: str
    options: dict[str, Any]
    job_dir: Path
    output: Path
    vram_policy: VramPolicy
    part: JobPart | None = None


# -- server -> worker ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunOrder:
    """Queue a run of ``spec`` (with its own cancel event)."""

    spec: WorkerSpec


@dataclass(frozen=True)
class CancelOrder:
    """Stop the latest run of the job between two denoising steps."""

    job_id: str


@dataclass(frozen=True)
class StopOrder:
    """Exit now (a running job stays where its checkpoint stands)."""


ToWorker = RunOrder | CancelOrder | StopOrder

# -- worker -> server ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadyReport:
    """The models are loaded on ``device``."""

    device: str
    pid: int


@dataclass(frozen=True)
class FatalReport:
    """The models could not be loaded; the worker ends."""

    error: ErrorInfo


@dataclass(frozen=True)
class ProgressReport:
    job_id: str
    progress: Progress


@dataclass(frozen=True)
class WindowReport:
    """A window's latents are checkpointed."""

    job_id: str
    windows_done: int
    num_windows: int


@dataclass(frozen=True)
class ResumedReport:
    """The run continues from a checkpoint after ``windows_done`` windows."""

    job_id: str
    windows_done: int


@dataclass(frozen=True)
class DoneReport:
    """The take is written; ``quality``: its cheap quality check (``xdub_daemon.quality``)."""

    job_id: str
    result_otio: str
    warnings: tuple[str, ...]
    quality: TakeQuality


@dataclass(frozen=True)
class FailedReport:
    """The run failed; ``worker_exits``: the worker ends after it (to be restarted fresh)."""

    job_id: str
    error: ErrorInfo
    worker_exits: bool


@dataclass(frozen=True)
class CancelledReport:
    job_id: str


@dataclass(frozen=True)
class PartDoneReport:
    """A split take's ``PlanPart`` or ``SegmentPart`` is done; ``plan``: the plan part's."""

    job_id: str
    part: PlanPart | SegmentPart
    plan: SegmentPlan | None = None


FromWorker = (
    ReadyReport
    | FatalReport
    | ProgressReport
    | WindowReport
    | ResumedReport
    | DoneReport
    | FailedReport
    | CancelledReport
    | PartDoneReport
)

Send = Callable[[FromWorker], None]
"""Where a job's reports go: the worker's pipe, or a Ray actor's stream (``xdub_daemon.farm``)."""

Sent = TypeVar("Sent")
Received = TypeVar("Received")


class WorkerPipe(Generic[Sent, Received]):
    """One end of a typed pipe to a child (the worker's, the validator's): typed ``send`` (safe from
    any thread) and ``receive``.

    ``WorkerPipe.server_end(conn)`` sends ``ToWorker`` and receives ``FromWorker``;
    ``WorkerPipe.worker_end(conn)`` the other way round. ``receive`` raises ``EOFError`` when
    the other end is gone, and ``TypeError`` for an object that is not one of its messages.
    """

    def __init__(self, conn: Connection, received: tuple[type, ...]) -> None:
        self._conn = conn
        self._received = received
        self._lock = threading.Lock()

    @staticmethod
    def server_end(conn: Connection) -> WorkerPipe[ToWorker, FromWorker]:
        return WorkerPipe(conn, get_args(FromWorker))

    @staticmethod
    def worker_end(conn: Connection) -> WorkerPipe[FromWorker, ToWorker]:
        return WorkerPipe(conn, get_args(ToWorker))

    def send(self, message: Sent) -> None:
        with self._lock:
            self._conn.send(message)

    def receive(self) -> Received:
        """The next message (waits for one)."""
        message = self._conn.recv()
        if not isinstance(message, self._received):
            raise TypeError(f"not a message of this pipe: {message!r}")
        return cast(Received, message)

    def poll(self) -> bool:
        """Whether a message is waiting."""
        return self._conn.poll()

    def fileno(self) -> int:
        return self._conn.fileno()

    def close(self) -> None:
        self._conn.close()
