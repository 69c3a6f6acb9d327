"""The worker side of a split take's parts on a farm (``xdub_daemon.farm_split`` schedules
them, ``xdub.sample.segments`` has the rule).

- ``PlanPart``: ``DubPipeline.plan_segments``, once per job: its plan is kept in the job
  folder (``split.json``), so a retried or resumed job keeps its segments, and so are the face
  track and the audio features the other parts read.
- ``SegmentPart``: ``DubPipeline.denoise_segment`` in the segment's own folder
  (``xdub_daemon.checkpoint.segment_dir``: checkpoints, dialogue, work files), from its last
  checkpoint; a finished segment is not denoised again.
- ``AssemblePart``: ``assembled_state`` joins the segments' states; the worker's usual run
  decodes, pastes and writes the take from it.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from xdub.sample.clips import assemble_segments
from xdub.sample.segments import SegmentPlan
from xdub_daemon.checkpoint import (
    load_checkpoint,
    remove_stale_work,
    save_checkpoint,
    segment_dir,
    track_cache,
)
from xdub_daemon.faults import with_test_faults
from xdub_daemon.job_inputs import feature_cache, read_job_inputs
from xdub_daemon.logs import JobLog
from xdub_daemon.wire import (
    PartDoneReport,
    PlanPart,
    ProgressReport,
    ResumedReport,
    SegmentPart,
    Send,
    WindowReport,
    WorkerSpec,
)

if TYPE_CHECKING:
    from xdub.pipeline import DubPipeline
    from xdub.progress import ProgressCallback
    from xdub.protocol.records import Progress
    from xdub.sample.clips import LoopState

log = logging.getLogger(__name__)

SPLIT_PLAN = "split.json"


def run_part(
    pipeline: DubPipeline,
    spec: WorkerSpec,
    part: PlanPart | SegmentPart,
    cancel: threading.Event,
    send: Send,
) -> PartDoneReport:
    """Run a plan or segment part of ``spec``, reporting on ``send``."""

    def on_progress(progress: Progress) -> None:
        send(ProgressReport(spec.job_id, progress))

    job_log = JobLog(log, spec.job_id)
    if isinstance(part, PlanPart):
        plan = read_plan(spec.job_dir) or _plan(pipeline, spec, part, cancel, on_progress)
        job_log.info("split into windows %s", plan.ranges)
        return PartDoneReport(spec.job_id, part, plan)
    folder = segment_dir(spec.job_dir, part.first, part.stop)
    resume = load_checkpoint(folder, device=pipeline.models.device)
    if resume is None or resume.windows_done < part.stop:
        if resume is not None:
            job_log.info("windows %d-%d resume at %d", part.first, part.stop, resume.windows_done)
            send(ResumedReport(spec.job_id, resume.windows_done))
        _denoise(pipeline, spec, part, folder, resume, cancel, on_progress, send)
    job_log.info("windows %d-%d denoised", part.first, part.stop)
    return PartDoneReport(spec.job_id, part)


def _plan(
    pipeline: DubPipeline,
    spec: WorkerSpec,
    part: PlanPart,
    cancel: threading.Event,
    on_progress: ProgressCallback,
) -> SegmentPlan:
    inputs = read_job_inputs(spec, spec.job_dir)
    pipeline.feature_cache = feature_cache(spec.job_dir, inputs.options, keep=True)
    pipeline.work_dir = spec.job_dir
    remove_stale_work(spec.job_dir)
    plan = pipeline.plan_segments(
        inputs.job.video_path,
        inputs.audio,
        part.max_segments,
        inputs.options,
        min_windows=part.min_windows,
        on_progress=on_progress,
        cancel=cancel,
        frames=inputs.frames,
        source=inputs.source,
        track_cache=track_cache(spec.job_dir),
    )
    temp = spec.job_dir / f".{SPLIT_PLAN}.tmp"
    temp.write_text(json.dumps(plan.to_json()), encoding="utf-8")
    temp.replace(spec.job_dir / SPLIT_PLAN)
    return plan


def _denoise(
    pipeline: DubPipeline,
    spec: WorkerSpec,
    part: SegmentPart,
    folder: Path,
    resume: LoopState | None,
    cancel: threading.Event,
    on_progress: ProgressCallback,
    send: Send,
) -> None:
    inputs = read_job_inputs(spec, folder)
    pipeline.feature_cache = feature_cache(spec.job_dir, inputs.options, keep=True)

    def on_window(windows_done: int, num_windows: int, state: LoopState) -> None:
        save_checkpoint(folder, state)
        send(WindowReport(spec.job_id, windows_done, num_windows))

    pipeline.work_dir = folder  # apart from the segments other actors run now
    remove_stale_work(folder)
    pipeline.denoise_segment(
        inputs.job.video_path,
        inputs.audio,
        (part.first, part.stop),
        inputs.options,
        on_progress=on_progress,
        cancel=cancel,
        resume=resume,
        on_window=with_test_faults(on_window),
        frames=inputs.frames,
        source=inputs.source,
        track_cache=track_cache(spec.job_dir),
    )


def assembled_state(job_dir: Path, plan: SegmentPlan, device: object) -> LoopState:
    """The take's state from its segments' last checkpoints (each must be finished)."""
    states = []
    for first, stop in plan.ranges:
        state = load_checkpoint(segment_dir(job_dir, first, stop), device=device)
        if state is None:
            raise RuntimeError(f"windows {first}-{stop} of the split take have no checkpoint")
        states.append(state)
    return assemble_segments(states, plan)


def read_plan(job_dir: Path) -> SegmentPlan | None:
    """The job's stored segment plan, or None before its plan part ran."""
    path = job_dir / SPLIT_PLAN
    if not path.is_file():
        return None
    return SegmentPlan.from_json(json.loads(path.read_text(encoding="utf-8")))
