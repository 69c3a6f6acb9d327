"""The JSON objects that messages carry: job states, progress, options, job and model info.

Stdlib-only and Python 3.10-compatible: hosts' Pythons get a copy of this module. Every class
validates on construction (see ``xdub.protocol.schema``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import Enum

from xdub.protocol.schema import Content, bad_content, parse_utc, require

_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_ERROR_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")


def check_job_id(job_id: str) -> None:
    """A job id is 1-64 of ``A-Z a-z 0-9 _ -`` (a uuid4 hex fits)."""
    require(bool(_JOB_ID.fullmatch(job_id)), f"job_id {job_id!r} is not 1-64 of A-Z a-z 0-9 _ -")


def check_name(name: str) -> None:
    """A model name is 1-64 of ``A-Z a-z 0-9 _ . -``."""
    require(bool(_NAME.fullmatch(name)), f"model name {name!r} is not valid")


def _check_timestamp(text: str, where: str) -> None:
    try:
        parse_utc(text)
    except ValueError as error:
        raise bad_content(f"{where}: {error}") from None


# ---------------------------------------------------------------------------------------------
# Enums


class JobState(str, Enum):
    """Where a job is; ``TRANSITIONS`` says where it may go next."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)

    def can_become(self, new_state: JobState) -> bool:
        """Whether the transition ``self -> new_state`` is allowed."""
        return new_state in TRANSITIONS[self]


TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.RUNNING, JobState.CANCELLED}),
    JobState.RUNNING: frozenset(
        {JobState.DONE, JobState.FAILED, JobState.CANCELLED, JobState.QUEUED}
    ),
    JobState.DONE: frozenset(),
    JobState.FAILED: frozenset({JobState.QUEUED}),
    JobState.CANCELLED: frozenset({JobState.QUEUED}),
}
"""Allowed job state changes. Running -> queued is a restart or a worker crash (it resumes)."""


class Stage(str, Enum):
    """The pipeline stage a ``Progress`` reports."""

    LOAD_MODELS = "load_models"
    PREPARE = "prepare"
    FACE_TRACK = "face_track"
    AUDIO_FEATURES = "audio_features"
    VAE_ENCODE = "vae_encode"
    DENOISE = "denoise"
    VAE_DECODE = "vae_decode"
    WRITE_TAKE = "write_take"


class Codec(str, Enum):
    PRORES_HQ = "prores_hq"
    DNXHR_HQ = "dnxhr_hq"
    H264 = "h264"


class Speaker(str, Enum):
    """How the face to dub is chosen when several are present."""

    LARGEST = "largest"
    """The person with the largest face box over the whole clip."""
    POINT = "point"
    """The person under ``speaker_xy``."""
    HIGHEST_SCORE = "highest_score"
    """X-Dub's rule: each frame's top-scoring person on its own, no tracking (since 1.2)."""


class MissingFace(str, Enum):
    """What to do with stretches of the clip where the speaker's face is not found."""

    ERROR = "error"
    """Refuse the take, naming the time range (default)."""
    PASS_THROUGH = "pass_through"
    """Dub the rest; those frames are left untouched in the take."""


class ModelAction(str, Enum):
    LIST = "list"
    DOWNLOAD = "download"
    VERIFY = "verify"
    DELETE = "delete"
    CANCEL_DOWNLOAD = "cancel_download"


class ModelState(str, Enum):
    MISSING = "missing"
    PARTIAL = "partial"
    DOWNLOADING = "downloading"
    VERIFYING = "verifying"
    READY = "ready"
    CORRUPT = "corrupt"


class DownloadState(str, Enum):
    DOWNLOADING = "downloading"
    VERIFYING = "verifying"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class WorkerState(str, Enum):
    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    CRASHED = "crashed"
    STOPPED = "stopped"


class SettingsAction(str, Enum):
    GET = "get"
    SET = "set"


class VramPolicy(str, Enum):
    """Where the worker keeps the networks' weights (the daemon's ``vram_policy`` setting).

    ``resident``: every network stays on the GPU between stages and jobs (fastest; the
    released model's weights take about 16 GB). ``offload``: weights live in CPU memory and
    each stage moves only its own networks to the GPU, so the largest stage bounds the VRAM
    and none is held between jobs. ``low_vram``: as ``offload``, and the DiT's blocks also
    move to the GPU one at a time as the forward pass reaches them (slowest; for GPUs under
    16 GB).
    """

    RESIDENT = "resident"
    OFFLOAD = "offload"
    LOW_VRAM = "low_vram"


class Quality(str, Enum):
    """How a take's numbers are computed: ``exact`` (the reference's, within bf16 rounding) or
    ``fast`` (FP8 linears, SageAttention, step caching: lossy within documented bounds)."""

    EXACT = "exact"
    FAST = "fast"


class Preset(str, Enum):
    """``final`` (the options as given) or ``draft`` (for auditioning: fewer steps, a smaller
    internal crop, fast quality; at least 5x fewer DiT FLOPs per video-second)."""

    FINAL = "final"
    DRAFT = "draft"


# ---------------------------------------------------------------------------------------------
# Parts


@dataclass(frozen=True)
class ErrorInfo(Content):
    """What went wrong: a stable ``code`` (an ``ErrorCode`` value), a message and a hint."""

    code: str
    message: str
    hint: str | None = None

    def _validate(self) -> None:
        code_ok = bool(_ERROR_CODE.fullmatch(self.code))
        require(code_ok, f"error code {self.code!r} is not snake_case")


@dataclass(frozen=True)
class Progress(Content):
    """How far a job is; the pipeline reports it and the daemon publishes it unchanged.

    ``clip``/``step`` count from 1 (0 before the first) up to ``num_clips``/``num_steps``;
    ``fraction`` is the whole job, 0-1; ``eta_s`` is seconds left, ``None`` while unknown.
    """

    stage: Stage
    clip: int
    num_clips: int
    step: int
    num_steps: int
    fraction: float
    eta_s: float | None = None

    def _validate(self) -> None:
        require(0 <= self.clip <= self.num_clips, f"clip {self.clip} not in 0..{self.num_clips}")
        require(0 <= self.step <= self.num_steps, f"step {self.step} not in 0..{self.num_steps}")
        require(0.0 <= self.fraction <= 1.0, f"fraction {self.fraction} not in 0..1")
        require(self.eta_s is None or self.eta_s >= 0.0, f"eta_s {self.eta_s} is negative")


MAX_CRF = 51
"""The worst H.264 constant rate factor (x264's scale: 0 lossless .. 51)."""

GUIDANCE_REUSE_BRANCHES = ("nega", "posi_r")
"""The CFG branches whose prediction may be reused between DiT passes."""

DEFAULT_SEED = 42
"""The noise seed of a take the pipeline runs with ``seed`` left open (the reference CLI's)."""


@dataclass(frozen=True)
class DubOptions(Content):
    """How to dub one take: the one options record of the daemon's jobs, the plugins and the
    pipeline (docs/protocol.md, "Job options"). Defaults are the reference CLI's, with 30 steps.

    ``codec``: the take's codec (``crf``: its quality when H.264). ``seed``: the noise seed;
    ``None`` leaves it open: the daemon draws a random one at submit (recorded in the job), and
    ``DubPipeline.run`` uses ``DEFAULT_SEED``. Every window starts from the same
    noise (as the reference) unless ``independent_noise``: window k's noise from ``seed + k``.
    ``ref_cfg_scale`` / ``audio_cfg_scale``: base scales of the triple CFG (dynamic schedule).
    ``speaker_xy``: with ``speaker`` ``point``, ``[x, y]`` in 0-1 of the first frame's size.
    ``output_dir``: the daemon's folder for the take (``None``: its results folder).
    Speed (``xdub.speed.plan``): ``quality`` exact or fast; ``preset`` draft overrides the
    steps, the internal crop and the quality.
    To add an option: a field with a default (old job JSON lacks it), its check in
    ``_validate``, a row in docs/protocol.md marked with the protocol version that added it.
    """

    codec: Codec = Codec.PRORES_HQ
    num_steps: int = 30
    ref_cfg_scale: float = 2.5
    audio_cfg_scale: float = 10.0
    seed: int | None = None
    speaker: Speaker = Speaker.LARGEST
    speaker_xy: tuple[float, ...] | None = None
    output_dir: str | None = None
    independent_noise: bool = False
    missing_face: MissingFace = MissingFace.ERROR
    crf: int = 16
    """H.264 constant rate factor: 0 lossless .. 51 worst; 16 is visually transparent."""
    quality: Quality = Quality.EXACT
    preset: Preset = Preset.FINAL
    fp8: bool | None = None
    """FP8 linears: None where the GPU has them (``fast`` quality only)."""
    step_cache_threshold: float | None = None
    """Step caching: 0..10, None for the quality's default (``xdub.speed.plan``)."""
    guidance_reuse_period: int = 1
    """k > 1: ``guidance_reuse_branch`` is computed on every k-th DiT pass only."""
    guidance_reuse_branch: str = "nega"
    """``nega`` or ``posi_r``."""

    def _validate(self) -> None:
        require(1 <= self.num_steps <= 1000, f"num_steps {self.num_steps} not in 1..1000")
        require(self.ref_cfg_scale >= 0.0, "ref_cfg_scale is negative")
        require(self.audio_cfg_scale >= 0.0, "audio_cfg_scale is negative")
        require(self.seed is None or self.seed >= 0, f"seed {self.seed} is negative")
        require(0 <= self.crf <= MAX_CRF, f"crf {self.crf} not in 0..{MAX_CRF}")
        threshold = self.step_cache_threshold
        require(
            threshold is None or 0.0 <= threshold < 10.0,
            f"step_cache_threshold {threshold} not in 0..10",
        )
        require(self.guidance_reuse_period >= 1, "guidance_reuse_period must be >= 1")
        require(
            self.guidance_reuse_branch in GUIDANCE_REUSE_BRANCHES,
            f"guidance_reuse_branch {self.guidance_reuse_branch!r} is not nega or posi_r",
        )
        if self.speaker is Speaker.POINT:
            xy = self.speaker_xy or ()
            require(
                len(xy) == 2 and all(0.0 <= v <= 1.0 for v in xy),
                f"speaker 'point' needs speaker_xy [x, y] in 0..1, not {self.speaker_xy}",
            )
        else:
            require(self.speaker_xy is None, "speaker_xy is only used with speaker 'point'")
        require(
            self.output_dir is None or os.path.isabs(self.output_dir),
            f"output_dir {self.output_dir!r} is not an absolute path",
        )


@dataclass(frozen=True)
class TakeQuality(Content):
    """The cheap quality check the daemon runs on a finished take (protocol 1.2; see
    docs/eval.md). ``is_available`` False: the check failed or was skipped (``note`` says why)
    and every number is ``None``. ``sync_offset_frames`` is positive when the audio lags;
    ``sync_is_reliable`` is False when the mouth came from test weights. ``psnr_db`` (outside the
    mouth) is capped at ``PSNR_IDENTICAL_DB`` for identical pixels; ``flicker`` is in 0..255
    levels; ``flags`` are the reasons to look at the take before placing it."""

    is_available: bool
    note: str = ""
    sync_offset_frames: int | None = None
    sync_confidence: float | None = None
    sync_is_reliable: bool = False
    psnr_db: float | None = None
    ssim: float | None = None
    flicker: float | None = None
    seam_psnr_drop_db: float | None = None
    flags: tuple[str, ...] = ()
    elapsed_s: float = 0.0
    is_partial: bool = False


PSNR_IDENTICAL_DB = 100.0
"""``TakeQuality.psnr_db`` of identical pixels (JSON numbers are finite)."""


@dataclass(frozen=True)
class JobInfo(Content):
    """A job as ``list`` and ``get`` return it. ``name`` is the OTIO job timeline's name;
    ``host`` (protocol 1.1) is the editor that made the job (the OTIO job's
    ``metadata["xdub"]["host"]``) and ``clip`` (1.1) the name of the clip being dubbed (the job's
    video clip's ``name``); both are ``None`` from 1.0 daemons and for jobs stored before 1.1."""

    job_id: str
    name: str
    state: JobState
    created_at: str
    updated_at: str
    options: DubOptions
    progress: Progress | None = None
    error: ErrorInfo | None = None
    result_otio: str | None = None
    warnings: tuple[str, ...] = ()
    host: str | None = None
    clip: str | None = None
    quality: TakeQuality | None = None
    """Since 1.2: the daemon's quality check of the finished take, or None."""
    runner: str | None = None
    """Since 1.3: the Ray farm actor running the job (``actor-1@gpu-box``), or None."""

    def _validate(self) -> None:
        check_job_id(self.job_id)
        _check_timestamp(self.created_at, "created_at")
        _check_timestamp(self.updated_at, "updated_at")


@dataclass(frozen=True)
class ModelInfo(Content):
    """One model of the model manager and what of it is on disk."""

    name: str
    state: ModelState
    size_bytes: int
    bytes_on_disk: int
    path: str | None = None
    is_required: bool = True
    """Whether dubbing needs it (since 1.2; optional components are ``false``)."""

    def _validate(self) -> None:
        check_name(self.name)
        require(self.size_bytes >= 0 and self.bytes_on_disk >= 0, "sizes must not be negative")
