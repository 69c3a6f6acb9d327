"""The GPU worker: a spawned subprocess holding one ``DubPipeline``, running one job at a time.

It talks to the server over a ``multiprocessing`` pipe with the typed messages of
``xdub_daemon.wire`` (``RunOrder`` in; ``ReadyReport``, ``ProgressReport`` ... ``DoneReport``
out; ``FailedReport.worker_exits`` says whether the worker exits after it, to be restarted
fresh). A reader thread turns ``CancelOrder`` into the pipeline's cancel ``Event`` (honoured
between two denoising steps) and exits the process when the server's end of the pipe closes
(the server died), so no orphan keeps running. The server side is ``xdub_daemon.supervisor``.
``load_pipeline`` and ``run_job`` report through any ``Send``: the Ray farm's actors
(``xdub_daemon.farm_actor``) run jobs with them too, and ``run_job`` runs one part of a split
take there (``xdub_daemon.split_parts``).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING

from xdub.protocol.records import ErrorInfo, TakeQuality, VramPolicy
from xdub_daemon.job_inputs import DIALOGUE_WAV, feature_cache, read_job_inputs
from xdub_daemon.logs import JobLog, setup_logging
from xdub_daemon.split_parts import SPLIT_PLAN, assembled_state, run_part
from xdub_daemon.wire import (
    AssemblePart,
    CancelledReport,
    CancelOrder,
    DoneReport,
    FailedReport,
    FatalReport,
    FromWorker,
    PlanPart,
    ProgressReport,
    ReadyReport,
    ResumedReport,
    RunOrder,
    SegmentPart,
    Send,
    StopOrder,
    ToWorker,
    WindowReport,
    WorkerPipe,
    WorkerSpec,
)

if TYPE_CHECKING:
    from xdub.face.track import FaceTrack
    from xdub.media.probe import MediaScan
    from xdub.pipeline import DubPipeline, DubResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerConfig:
    """What the worker process needs to start (picklable)."""

    model_dir: Path
    device: str
    precision: str
    vram_policy: VramPolicy
    face_backend: str
    log_path: Path
    compile: str = "auto"
    cuda_graphs: bool = False


def take_path(name: str, job_id: str, folder: Path, suffix: str) -> Path:
    """``folder/<name>-<job_id><suffix>`` with the name reduced to safe characters."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "take"
    return folder / f"{safe[:60]}-{job_id}{suffix}"


class _Channel:
    """The worker's end of the pipe: sends from any thread; each queued run has its own cancel
    event, found by job id while that run is the job's latest (a retry right after a cancel
    queues a new run of the same job before the cancelled one has returned)."""

    def __init__(self, conn: Connection) -> None:
        self.pipe = WorkerPipe.worker_end(conn)
        self.cancels: dict[str, threading.Event] = {}
        self.jobs: list[tuple[WorkerSpec, threading.Event]] = []
        self.has_job = threading.Condition()

    def send(self, message: FromWorker) -> None:
        self.pipe.send(message)

    def read_forever(self) -> None:
        """Reader thread: handle the server's messages; exit when the server is gone."""
        while True:
            try:
                message = self.pipe.receive()
            except (EOFError, OSError):
                log.warning("the server closed the pipe; the worker exits")
                os._exit(0)
            if isinstance(message, StopOrder):
                os._exit(0)
            self.handle(message)

    def handle(self, message: ToWorker) -> None:
        """``RunOrder`` queues a run with a fresh cancel event; ``CancelOrder`` sets the event
        of that job's latest run."""
        if isinstance(message, RunOrder):
            spec = message.spec
            cancel = self.cancels[spec.job_id] = threading.Event()
            with self.has_job:
                self.jobs.append((spec, cancel))
                self.has_job.notify()
        elif isinstance(message, CancelOrder) and message.job_id in self.cancels:
            self.cancels[message.job_id].set()

    def next_job(self) -> tuple[WorkerSpec, threading.Event]:
        """The next run and its cancel event (waits for one)."""
        with self.has_job:
            while not self.jobs:
                self.has_job.wait()
            return self.jobs.pop(0)

    def finished(self, job_id: str, cancel: threading.Event) -> None:
        """Forget a finished run's cancel event, unless a newer run of the job replaced it."""
        if self.cancels.get(job_id) is cancel:
            del self.cancels[job_id]


def worker_main(conn: Connection, config: WorkerConfig) -> None:
    """The worker process: load the models once, then run jobs until told to stop."""
    setup_logging(config.log_path)
    channel = _Channel(conn)
    threading.Thread(target=channel.read_forever, name="pipe-reader", daemon=True).start()
    pipeline = load_pipeline(config, channel.send)
    if pipeline is None:
        return
    while True:
        spec, cancel = channel.next_job()
        exit_after = run_job(pipeline, spec, cancel, channel.send)
        channel.finished(spec.job_id, cancel)
        if exit_after:
            os._exit(0)


def load_pipeline(config: WorkerConfig, send: Send) -> DubPipeline | None:
    """The models, loaded once: ``ReadyReport`` on ``send``; None after a ``FatalReport``."""
    try:
        from xdub.pipeline import DubPipeline

        pipeline = DubPipeline(
            config.model_dir,
            device=config.device,
            precision=config.precision,
            vram_policy=config.vram_policy,
            face_backend=config.face_backend,
            compile=config.compile,
            cuda_graphs=config.cuda_graphs,
        )
    except Exception as error:  # reported to the server, which fails the jobs clearly
        log.exception("the worker could not load the models from %s", config.model_dir)
        send(FatalReport(_error_info(error)))
        return None
    device = f"{pipeline.models.device}"
    send(ReadyReport(device, os.getpid()))
    log.info("models loaded from %s on %s", config.model_dir, device)
    return pipeline


def _error_info(error: BaseException) -> ErrorInfo:
    from xdub.errors import XdubError
    from xdub.protocol.precheck import disk_full_from

    error = disk_full_from(error, None, "the job's files") or error
    if isinstance(error, XdubError):
        return ErrorInfo(error.code, error.message, error.hint)
    return ErrorInfo(
        "internal",
        f"{type(error).__name__}: {error}",
        "this is a bug in xdub; the daemon's log has the traceback",
    )


def run_job(pipeline: DubPipeline, spec: WorkerSpec, cancel: threading.Event, send: Send) -> bool:
    """Run ``spec``, reporting on ``send``; True when the worker should restart after it."""
    import torch

    from xdub.errors import JobCancelled

    job_log = JobLog(log, spec.job_id)
    if pipeline.models.residency.policy is not spec.vram_policy:
        job_log.info("VRAM policy %s from now on", spec.vram_policy.value)
        pipeline.models.residency.set_policy(spec.vram_policy)
    try:
        if isinstance(spec.part, (PlanPart, SegmentPart)):
            send(run_part(pipeline, spec, spec.part, cancel, send))
        else:
            send(_dub(pipeline, spec, cancel, send, job_log))
    except JobCancelled:
        job_log.info("cancelled")
        send(CancelledReport(spec.job_id))
    except Exception as error:
        job_log.exception("failed")
        info = _error_info(error)
        is_out_of_memory = isinstance(error, torch.OutOfMemoryError)
        if is_out_of_memory or info.code == "out_of_memory":
            info = ErrorInfo(
                "out_of_memory",
                f"the GPU ran out of memory during job {spec.job_id}: {error}",
                "close other GPU programs, or dub a shorter or smaller clip; "
                "retry resumes from the last finished window",
            )
            send(FailedReport(spec.job_id, info, worker_exits=True))
            return True  # a fresh worker process frees fragmented GPU memory
        send(FailedReport(spec.job_id, info, worker_exits=False))
    return False


def _dub(
    pipeline: DubPipeline,
    spec: WorkerSpec,
    cancel: threading.Event,
    send: Send,
    job_log: JobLog,
) -> DoneReport:
    """The whole take (or a split take's assembly from its segments' states)."""
    from xdub.face.track_store import TRACK_FILE, save_track
    from xdub.job.result import build_result
    from xdub.job.timeline import job_to_json
    from xdub.protocol.records import Progress
    from xdub.sample.clips import LoopState
    from xdub_daemon.checkpoint import (
        clean_job_dir,
        load_checkpoint,
        remove_stale_work,
        save_checkpoint,
        track_cache,
    )
    from xdub_daemon.faults import with_test_faults

    inputs = read_job_inputs(spec, spec.job_dir)
    job, options, frames = inputs.job, inputs.options, inputs.frames
    track = _stored_track(spec.job_dir, frames, inputs.source, job_log)
    pipeline.feature_cache = feature_cache(spec.job_dir, options)
    segments = spec.part.plan if isinstance(spec.part, AssemblePart) else None
    resume: LoopState | None
    if segments is not None:
        resume = assembled_state(spec.job_dir, segments, pipeline.models.device)
    else:
        resume = load_checkpoint(spec.job_dir, device=pipeline.models.device)
    if resume is not None:
        job_log.info("resuming from window %d", resume.windows_done)
        send(ResumedReport(spec.job_id, resume.windows_done))

    def on_progress(progress: Progress) -> None:
        send(ProgressReport(spec.job_id, progress))

    def on_window(windows_done: int, num_windows: int, state: LoopState) -> None:
        save_checkpoint(spec.job_dir, state)
        send(WindowReport(spec.job_id, windows_done, num_windows))

    pipeline.work_dir = spec.job_dir  # the face crops: on the job's drive, not in TMPDIR
    remove_stale_work(spec.job_dir)  # a killed run's crops would pile up with every kill
    result = pipeline.run(
        job.video_path,
        inputs.audio,
        spec.output,
        options,
        on_progress=on_progress,
        cancel=cancel,
        resume=resume,
        on_window=with_test_faults(on_window),
        frames=frames,
        source=inputs.source,
        track=track,
        track_cache=track_cache(spec.job_dir),
        segments=segments,
    )
    if result.is_draft and result.track is not None:  # for make_final
        save_track(spec.job_dir / TRACK_FILE, result.track)
    model = pipeline.models.folder.root.name
    if result.is_test_weights:
        model += " (TEST WEIGHTS)"
    timeline = build_result(
        job,
        result.output.resolve(),
        job_id=spec.job_id,
        model=model,
        settings=options.to_json(),
        warnings=result.warnings,
        speed=result.speed,
    )
    job_log.info("wrote %s (%d frames)", result.output, result.num_frames)
    quality = _quality(pipeline, job.video_path, result, inputs.audio, frames, job_log)
    clean_job_dir(spec.job_dir, (DIALOGUE_WAV, SPLIT_PLAN))  # after the quality check
    warnings = (*job.warnings, *result.warnings)
    return DoneReport(spec.job_id, job_to_json(timeline), warnings, quality)


def _stored_track(
    job_dir: Path, frames: tuple[int, int], source: MediaScan, job_log: JobLog
) -> FaceTrack | None:
    """The crop track a ``make_final`` copied into the job's folder, or None (then the face is
    tracked as usual)."""
    from xdub.face.track_store import TRACK_FILE, load_track
    from xdub.take_plan import plan_take

    path = job_dir / TRACK_FILE
    if not path.is_file():
        return None
    track = load_track(path, plan_take(source, frames).num_model_frames)
    job_log.info("reusing the crop track of the draft (no face tracking)")
    return track


def _quality(
    pipeline: DubPipeline,
    video: Path,
    result: DubResult,
    dialogue: Path,
    frames: tuple[int, int] | None,
    job_log: JobLog,
) -> TakeQuality:
    """The take's cheap quality check (``xdub_daemon.quality``)."""
    from xdub_daemon.quality import take_quality

    quality = take_quality(
        video,
        result.output,
        dialogue,
        crop_boxes=result.face_boxes,
        source_first_frame=frames[0] if frames else 0,
        estimator=pipeline.models.face,
        is_test_weights=result.is_test_weights,
    )
    job_log.info("quality: %s", quality.flags or quality.note or "no flags")
    return quality
