"""Content schemas of every daemon message, as frozen dataclasses (docs/protocol.md).

Stdlib-only and Python 3.10-compatible: hosts' Pythons get a copy of this module.

Each message class names its ``MSG_TYPE``: ``Request`` subclasses (answered by the class whose
``MSG_TYPE`` is theirs plus ``_reply``), ``Reply`` subclasses and ``Event`` subclasses. Every
class validates on construction (see ``xdub.protocol.schema``); ``MESSAGE_TYPES`` is the
registry and ``parse_content`` the entry point for received content. The objects they carry
(``JobState``, ``Progress``, ``DubOptions`` ...) live in ``xdub.protocol.records``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xdub.errors import ProtocolError, XdubError
from xdub.protocol.errors import ErrorCode, exception_for
from xdub.protocol.records import (
    DownloadState,
    DubOptions,
    ErrorInfo,
    JobInfo,
    JobState,
    ModelAction,
    ModelInfo,
    Progress,
    SettingsAction,
    WorkerState,
    check_job_id,
    check_name,
)
from xdub.protocol.schema import Content, Event, Reply, Request, parse_version, require
from xdub.protocol.transfer_messages import TRANSFER_MESSAGES

# ---------------------------------------------------------------------------------------------
# Requests and their replies


@dataclass(frozen=True)
class Hello(Request):
    """Who the client is, and the protocol version it speaks."""

    MSG_TYPE = "hello"
    protocol_version: str
    client_name: str
    client_version: str

    def _validate(self) -> None:
        parse_version(self.protocol_version)


@dataclass(frozen=True)
class HelloReply(Reply):
    """The version both sides use, and what the daemon is."""

    MSG_TYPE = "hello_reply"
    protocol_version: str
    xdub_version: str
    pid: int
    device: str
    models_ready: bool

    def _validate(self) -> None:
        parse_version(self.protocol_version)


@dataclass(frozen=True)
class Submit(Request):
    """Queue a job: ``otio`` is the job timeline as an OTIO JSON string."""

    MSG_TYPE = "submit"
    job_id: str
    otio: str
    options: DubOptions = field(default_factory=DubOptions)
    priority: int = 0

    def _validate(self) -> None:
        check_job_id(self.job_id)
        require(bool(self.otio), "otio is empty")
        require(-100 <= self.priority <= 100, f"priority {self.priority} not in -100..100")


@dataclass(frozen=True)
class SubmitReply(Reply):
    MSG_TYPE = "submit_reply"
    job_id: str
    state: JobState
    queue_position: int

    def _validate(self) -> None:
        check_job_id(self.job_id)
        require(self.queue_position >= 0, "queue_position is negative")


@dataclass(frozen=True)
class ListJobs(Request):
    """Jobs newest first, of the given ``states`` (``None``: all), at most ``limit``."""

    MSG_TYPE = "list"
    states: tuple[JobState, ...] | None = None
    limit: int = 100

    def _validate(self) -> None:
        require(1 <= self.limit <= 1000, f"limit {self.limit} not in 1..1000")


@dataclass(frozen=True)
class ListJobsReply(Reply):
    MSG_TYPE = "list_reply"
    jobs: tuple[JobInfo, ...]


@dataclass(frozen=True)
class JobRequest(Request):
    """A request about one job (``get``, ``cancel``, ``retry``)."""

    job_id: str

    def _validate(self) -> None:
        check_job_id(self.job_id)


@dataclass(frozen=True)
class GetJob(JobRequest):
    MSG_TYPE = "get"


@dataclass(frozen=True)
class GetJobReply(Reply):
    MSG_TYPE = "get_reply"
    job: JobInfo


@dataclass(frozen=True)
class CancelJob(JobRequest):
    MSG_TYPE = "cancel"


@dataclass(frozen=True)
class JobStateReply(Reply):
    """The job's state after a ``cancel`` or ``retry``."""

    job_id: str
    state: JobState

    def _validate(self) -> None:
        check_job_id(self.job_id)


@dataclass(frozen=True)
class CancelJobReply(JobStateReply):
    MSG_TYPE = "cancel_reply"


@dataclass(frozen=True)
class RetryJob(JobRequest):
    MSG_TYPE = "retry"


@dataclass(frozen=True)
class RetryJobReply(JobStateReply):
    MSG_TYPE = "retry_reply"


@dataclass(frozen=True)
class MakeFinal(JobRequest):
    """Since 1.3: queue the final take of a done draft job as a new job (same clip, dialogue
    and seed, the final preset; its crop track and audio features are reused)."""

    MSG_TYPE = "make_final"


@dataclass(frozen=True)
class MakeFinalReply(Reply):
    MSG_TYPE = "make_final_reply"
    job_id: str
    """The new, final job."""
    draft_job_id: str
    state: JobState

    def _validate(self) -> None:
        check_job_id(self.job_id)
        check_job_id(self.draft_job_id)


@dataclass(frozen=True)
class DeleteJob(Request):
    """Forget a terminal job; ``delete_files`` also removes its take and intermediates."""

    MSG_TYPE = "delete"
    job_id: str
    delete_files: bool = False

    def _validate(self) -> None:
        check_job_id(self.job_id)


@dataclass(frozen=True)
class DeleteJobReply(Reply):
    MSG_TYPE = "delete_reply"
    job_id: str

    def _validate(self) -> None:
        check_job_id(self.job_id)


_MODEL_ACTIONS_NEEDING_NAMES = (ModelAction.DELETE,)


@dataclass(frozen=True)
class Models(Request):
    """A model manager action on ``names``; empty: every model for ``list`` and ``verify``,
    what dubbing needs for ``download``, the running download for ``cancel_download`` (1.2).
    ``discard_partials`` (1.2): ``cancel_download`` also removes the partial files."""

    MSG_TYPE = "models"
    action: ModelAction
    names: tuple[str, ...] = ()
    discard_partials: bool = False

    def _validate(self) -> None:
        for name in self.names:
            check_name(name)
        require(
            bool(self.names) or self.action not in _MODEL_ACTIONS_NEEDING_NAMES,
            f"models action {self.action.value!r} needs at least one name",
        )


@dataclass(frozen=True)
class ModelsReply(Reply):
    """The models' state; ``free_bytes`` (1.2): free space on the model folder's disk;
    ``running`` (1.2): the action running in the background (``download``, ``verify``)."""

    MSG_TYPE = "models_reply"
    models: tuple[ModelInfo, ...]
    free_bytes: int | None = None
    running: ModelAction | None = None


def _check_scalars(values: dict[str, Any]) -> None:
    for key, value in values.items():
        require(bool(key), "a setting name is empty")
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        require(
            value is None or isinstance(value, (str, bool)) or is_number,
            f"setting {key!r} must be a string, number, boolean or null, not {value!r}",
        )
        require(not isinstance(value, float) or value == value, f"setting {key!r} is NaN")


@dataclass(frozen=True)
class Settings(Request):
    """Read (``get``) or change (``set``) daemon settings; ``values`` maps names to scalars."""

    MSG_TYPE = "settings"
    action: SettingsAction
    values: dict[str, Any] = field(default_factory=dict)

    def _validate(self) -> None:
        _check_scalars(self.values)
        require(
            self.action is SettingsAction.SET or not self.values,
            "settings 'get' takes no values",
        )


@dataclass(frozen=True)
class SettingsReply(Reply):
    MSG_TYPE = "settings_reply"
    settings: dict[str, Any]

    def _validate(self) -> None:
        _check_scalars(self.settings)


@dataclass(frozen=True)
class Shutdown(Request):
    """Stop the daemon now, or ``after_current_job``."""

    MSG_TYPE = "shutdown"
    after_current_job: bool = False


@dataclass(frozen=True)
class ShutdownReply(Reply):
    MSG_TYPE = "shutdown_reply"


@dataclass(frozen=True)
class ErrorReply(Content):
    """The failure reply of any request: ``{"status": "error", "error": {...}}``."""

    error: ErrorInfo

    def to_json(self) -> dict[str, Any]:
        return {"status": "error", **super().to_json()}

    @classmethod
    def _check_envelope(cls, obj: Any, where: str) -> None:
        require(obj.get("status") == "error", f"{where}.status must be 'error'")

    @classmethod
    def from_exception(cls, error: XdubError) -> ErrorReply:
        """The reply telling a client about ``error`` (its code, message and hint)."""
        return cls(ErrorInfo(code=error.code, message=error.message, hint=error.hint))

    def to_exception(self) -> XdubError:
        """The exception of the tree this reply's code belongs to, e.g. ``JobError``."""
        return exception_for(self.error.code, self.error.message, self.error.hint)


# ---------------------------------------------------------------------------------------------
# Events


@dataclass(frozen=True)
class JobStateEvent(Event):
    """A job changed state; ``error`` is set on failed, ``result_otio`` on done."""

    MSG_TYPE = "job_state"
    job_id: str
    state: JobState
    previous_state: JobState | None = None
    error: ErrorInfo | None = None
    result_otio: str | None = None
    seq: int | None = None
    """The job's event number (since 1.2): 1, 2, ... over its ``job_state`` and ``progress``
    events, kept across daemon restarts; ``job_events`` replays the ones a client missed."""

    def _validate(self) -> None:
        check_job_id(self.job_id)
        _check_seq(self.seq)
        require(
            self.previous_state is None or self.previous_state.can_become(self.state),
            f"job_state {self.previous_state} -> {self.state} is not an allowed transition",
        )
        require((self.error is not None) == (self.state is JobState.FAILED), "error iff failed")
        require(
            (self.result_otio is not None) == (self.state is JobState.DONE),
            "result_otio iff done",
        )


@dataclass(frozen=True)
class ProgressEvent(Event):
    MSG_TYPE = "progress"
    job_id: str
    progress: Progress
    seq: int | None = None
    """The job's event number, as in ``JobStateEvent`` (since 1.2)."""

    def _validate(self) -> None:
        check_job_id(self.job_id)
        _check_seq(self.seq)


def _check_seq(seq: int | None) -> None:
    require(seq is None or seq >= 1, f"seq {seq} is not a positive event number")


@dataclass(frozen=True)
class JobEvents(Request):
    """The events of ``job_id`` numbered above ``after_seq``, to fill a gap (since 1.2)."""

    MSG_TYPE = "job_events"
    job_id: str
    after_seq: int = 0

    def _validate(self) -> None:
        check_job_id(self.job_id)
        require(self.after_seq >= 0, f"after_seq {self.after_seq} is negative")


@dataclass(frozen=True)
class JobEventsReply(Reply):
    """The kept events of a job after ``after_seq``, each list in ``seq`` order; ``last_seq``
    is the job's latest event number. A finished job keeps its ``job_state`` events only."""

    MSG_TYPE = "job_events_reply"
    job_id: str
    last_seq: int
    job_states: tuple[JobStateEvent, ...] = ()
    progress: tuple[ProgressEvent, ...] = ()


@dataclass(frozen=True)
class ModelDownloadEvent(Event):
    """Progress of one file of a model download; ``download_bytes_done``/``_total`` (1.2):
    the whole download's (resumed bytes included)."""

    MSG_TYPE = "model_download"
    name: str
    file: str
    state: DownloadState
    bytes_done: int
    bytes_total: int | None
    speed_bps: float
    eta_s: float | None = None
    download_bytes_done: int | None = None
    download_bytes_total: int | None = None

    def _validate(self) -> None:
        require(self.bytes_done >= 0 and self.speed_bps >= 0.0, "negative download progress")
        require(
            self.bytes_total is None or 0 <= self.bytes_done <= self.bytes_total,
            f"bytes_done {self.bytes_done} exceeds bytes_total {self.bytes_total}",
        )
        require(self.eta_s is None or self.eta_s >= 0.0, "eta_s is negative")


@dataclass(frozen=True)
class ModelTaskEvent(Event):
    """A background ``download`` or ``verify`` ended (since 1.2). ``outcome``: ``done``,
    ``failed`` or ``cancelled``; ``note`` says why or what; ``problems``: what verify found."""

    MSG_TYPE = "model_task"
    action: ModelAction
    outcome: DownloadState
    note: str = ""
    problems: tuple[str, ...] = ()

    def _validate(self) -> None:
        require(
            self.action in (ModelAction.DOWNLOAD, ModelAction.VERIFY),
            f"a model_task is a download or a verify, not {self.action.value!r}",
        )
        require(
            self.outcome in (DownloadState.DONE, DownloadState.FAILED, DownloadState.CANCELLED),
            f"a model_task ends done, failed or cancelled, not {self.outcome.value!r}",
        )


@dataclass(frozen=True)
class WorkerHealthEvent(Event):
    """The GPU worker's state; memory fields are ``None`` when not known."""

    MSG_TYPE = "worker_health"
    state: WorkerState
    pid: int | None
    device: str
    vram_used_bytes: int | None = None
    vram_total_bytes: int | None = None
    message: str | None = None
    actors_alive: int | None = None
    """Since 1.3: the Ray farm's actors with their models loaded (None: a local worker)."""


# ---------------------------------------------------------------------------------------------
# The registry

_MESSAGE_CLASSES: tuple[type[Content], ...] = (
    Hello,
    HelloReply,
    Submit,
    SubmitReply,
    ListJobs,
    ListJobsReply,
    GetJob,
    GetJobReply,
    CancelJob,
    CancelJobReply,
    RetryJob,
    RetryJobReply,
    MakeFinal,
    MakeFinalReply,
    DeleteJob,
    DeleteJobReply,
    Models,
    ModelsReply,
    Settings,
    SettingsReply,
    Shutdown,
    ShutdownReply,
    JobStateEvent,
    ProgressEvent,
    ModelDownloadEvent,
    ModelTaskEvent,
    WorkerHealthEvent,
    JobEvents,
    JobEventsReply,
    *TRANSFER_MESSAGES,
)

MESSAGE_TYPES: dict[str, type[Content]] = {cls.MSG_TYPE: cls for cls in _MESSAGE_CLASSES}
"""Every ``msg_type`` of this protocol version and its content class."""

REPLY_SUFFIX = "_reply"


def reply_type(request_type: str) -> str:
    """``"submit"`` -> ``"submit_reply"``."""
    return request_type + REPLY_SUFFIX


def parse_content(msg_type: str, obj: Any) -> Content:
    """Received content -> its class; an error reply under any ``*_reply`` -> ``ErrorReply``."""
    cls = MESSAGE_TYPES.get(msg_type)
    if cls is None:
        raise ProtocolError(f"unknown msg_type {msg_type!r}", code=ErrorCode.UNKNOWN_TYPE.value)
    if issubclass(cls, Reply) and isinstance(obj, dict) and obj.get("status") == "error":
        return ErrorReply.from_json(obj, where=f"{msg_type}.content")
    return cls.from_json(obj, where=f"{msg_type}.content")
