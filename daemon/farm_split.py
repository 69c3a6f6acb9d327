"""A split take on a farm: one long job's parts on several actors at once (docs/farm.md).

``SplitRun`` is one job's schedule, without Ray: first a ``PlanPart`` (one actor finds the
segments at the dialogue's pauses and keeps the face track and audio features in the job
folder), then one ``SegmentPart`` per segment, all placed at once on whichever actors are
free, then an ``AssemblePart`` (decode, paste and write the take from the segments' states,
``xdub_daemon.split_parts``). A plan of one segment runs the job whole instead. The parts'
reports become the job's: one progress bar over every segment, one terminal report. The
farm backend (``xdub_daemon.farm``) places the parts and routes their reports here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from xdub.job.timeline import parse_job
from xdub.progress import STAGE_WEIGHTS
from xdub.protocol.records import Progress, Stage
from xdub.sample.segments import SegmentPlan
from xdub.sample.windows import VIDEO_FPS, WindowPlan
from xdub_daemon.config import FarmOptions
from xdub_daemon.wire import (
    AssemblePart,
    CancelledReport,
    DoneReport,
    FailedReport,
    FromWorker,
    PartDoneReport,
    PlanPart,
    ProgressReport,
    ResumedReport,
    SegmentPart,
    WindowReport,
    WorkerSpec,
)

_BEFORE_DENOISE = (Stage.PREPARE, Stage.FACE_TRACK, Stage.AUDIO_FEATURES)
DENOISE_START = sum(STAGE_WEIGHTS[stage] for stage in _BEFORE_DENOISE)
"""The job's fraction when denoising starts (the plan part did the stages before it)."""
_MIN_FRACTION_FOR_ETA = 0.02


def segments_for(options: FarmOptions, spec: WorkerSpec, num_actors: int) -> int:
    """The most segments ``spec``'s take may have on a farm of ``num_actors`` (1: it runs
    whole, as a clip too short for two segments of ``options.min_segment_windows`` does)."""
    most = options.max_segments or num_actors
    if most < 2:
        return 1
    duration_s = parse_job(spec.otio, check_files=False).duration_s
    plan = WindowPlan()
    num_windows = plan.num_clips(plan.total_length(round(duration_s * VIDEO_FPS)))
    return most if num_windows >= 2 * options.min_segment_windows else 1


class SplitRun:
    """One job's parts: ``next_part`` gives the next one to place, ``on_report`` turns a
    part's report into the job's, ``requeue`` places a lost part again."""

    def __init__(
        self,
        spec: WorkerSpec,
        max_segments: int,
        min_windows: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec = spec
        self._waiting = [replace(spec, part=PlanPart(max_segments, min_windows))]
        self._running: list[WorkerSpec] = []
        self.plan: SegmentPlan | None = None
        self._windows_done: dict[tuple[int, int], float] = {}
        """Per segment: its windows denoised so far (fractions within the one running)."""
        self._fraction = 0.0
        self._clock, self._started = clock, clock()
        self.ended = False
        """A terminal report was given: the other running parts are to be stopped."""

    @property
    def job_id(self) -> str:
        return self.spec.job_id

    @property
    def has_waiting(self) -> bool:
        return bool(self._waiting) and not self.ended

    def next_part(self) -> WorkerSpec:
        """The next part to run (``has_waiting`` says whether there is one)."""
        part = self._waiting.pop(0)
        self._running.append(part)
        return part

    def requeue(self, part: WorkerSpec) -> None:
        """``part``'s actor was lost: it runs again (from its checkpoint) next."""
        self._running.remove(part)
        self._waiting.insert(0, part)

    def on_report(self, part: WorkerSpec, report: FromWorker) -> list[FromWorker]:
        """The job's reports for ``report`` of ``part`` (none for a part's own ends)."""
        if self.ended:
            return []
        if isinstance(report, (DoneReport, FailedReport, CancelledReport)):
            self._running.remove(part)
            self.ended = True
            return [report]
        if isinstance(report, PartDoneReport):
            self._running.remove(part)
            self._part_done(report)
            return []
        if isinstance(report, ResumedReport) and isinstance(part.part, SegmentPart):
            self._windows_done[_windows(part)] = report.windows_done - part.part.first
            return []
        if isinstance(report, WindowReport) and isinstance(part.part, SegmentPart):
            self._windows_done[_windows(part)] = report.windows_done - part.part.first
            return [self._window_report(report.num_windows)]
        if isinstance(report, ProgressReport):
            return [ProgressReport(self.job_id, self._progress(part, report.progress))]
        return [report]

    def _part_done(self, report: PartDoneReport) -> None:
        if isinstance(report.part, PlanPart):
            assert report.plan is not None
            self.plan = report.plan
            if not report.plan.is_split:  # too short to split: the job runs whole
                self._waiting.append(self.spec)
                return
            for first, stop in report.plan.ranges:
                self._windows_done[first, stop] = 0.0
                self._waiting.append(replace(self.spec, part=SegmentPart(first, stop)))
            return
        first, stop = report.part.first, report.part.stop
        self._windows_done[first, stop] = stop - first
        if not any(isinstance(p.part, SegmentPart) for p in (*self._waiting, *self._running)):
            assert self.plan is not None
            self._waiting.append(replace(self.spec, part=AssemblePart(self.plan)))

    def _window_report(self, num_windows: int) -> WindowReport:
        done = sum(int(windows) for windows in self._windows_done.values())
        return WindowReport(self.job_id, done, num_windows)

    def _progress(self, part: WorkerSpec, progress: Progress) -> Progress:
        """One bar for the job: the plan part's stages, then every segment's windows as one
        denoise stage, then the assembly's (never going back)."""
        stage, fraction = progress.stage, progress.fraction
        clip, num_clips = progress.clip, progress.num_clips
        step, num_steps = progress.step, progress.num_steps
        if isinstance(part.part, SegmentPart) and self.plan is not None:
            if progress.num_steps:  # denoising: its window's steps so far count
                within = progress.clip - 1 - part.part.first + progress.step / progress.num_steps
                self._windows_done[_windows(part)] = within
            done = sum(self._windows_done.values())
            stage, num_clips = Stage.DENOISE, self.plan.num_windows
            fraction = DENOISE_START + STAGE_WEIGHTS[Stage.DENOISE] * done / num_clips
            clip, step, num_steps = min(num_clips, int(done) + 1), 0, 0
        self._fraction = min(1.0, max(self._fraction, fraction))
        elapsed_s = self._clock() - self._started
        eta_s = None
        if self._fraction >= _MIN_FRACTION_FOR_ETA:
            eta_s = elapsed_s / self._fraction * (1 - self._fraction)
        return Progress(stage, clip, num_clips, step, num_steps, self._fraction, eta_s)


def _windows(part: WorkerSpec) -> tuple[int, int]:
    assert isinstance(part.part, SegmentPart)
    return part.part.first, part.part.stop
