"""A split take's schedule on a farm (``xdub_daemon.farm_split.SplitRun``), without Ray: the
parts in order (plan, every segment at once, assembly), one progress bar that never goes
back, one terminal report, a failed part ending the job, a lost part placed again, and which
jobs are split at all. The real thing on a Ray head is in test_ray_backend.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.daemon import make_clip

from xdub.protocol.records import ErrorInfo, Progress, Stage, TakeQuality, VramPolicy
from xdub.sample.segments import SegmentPlan
from xdub_daemon.config import FarmOptions
from xdub_daemon.farm_split import DENOISE_START, SplitRun, segments_for
from xdub_daemon.wire import (
    AssemblePart,
    CancelledReport,
    DoneReport,
    FailedReport,
    PartDoneReport,
    PlanPart,
    ProgressReport,
    SegmentPart,
    WindowReport,
    WorkerSpec,
)

SPEC = WorkerSpec("job1", "{}", {}, Path("/jobs/job1"), Path("/takes/t.mp4"), VramPolicy.RESIDENT)
PLAN = SegmentPlan(6, (0, 3))
DONE = DoneReport("job1", "{}", (), TakeQuality(is_available=False))


def _step(window: int, step: int, num_steps: int = 4) -> ProgressReport:
    """A segment's denoise progress at ``step`` of window ``window`` (0-based)."""
    progress = Progress(Stage.DENOISE, window + 1, 6, step, num_steps, 0.5)
    return ProgressReport("job1", progress)


def _planned(run: SplitRun) -> tuple[WorkerSpec, WorkerSpec]:
    plan_part = run.next_part()
    assert plan_part.part == PlanPart(2, 3)
    assert run.on_report(plan_part, PartDoneReport("job1", PlanPart(2, 3), PLAN)) == []
    first, second = run.next_part(), run.next_part()
    assert (first.part, second.part) == (SegmentPart(0, 3), SegmentPart(3, 6))
    assert not run.has_waiting  # both segments placed at once
    return first, second


def test_the_parts_run_plan_then_segments_at_once_then_assembly() -> None:
    run = SplitRun(SPEC, 2, 3)
    first, second = _planned(run)
    bar = [run.on_report(second, _step(3, 2))[0], run.on_report(first, _step(0, 2))[0]]
    assert run.on_report(first, WindowReport("job1", 1, 6)) == [WindowReport("job1", 1, 6)]
    bar += [run.on_report(first, _step(1, 2))[0]]
    fractions = [report.progress.fraction for report in bar]  # type: ignore[union-attr]
    assert fractions == sorted(fractions) and fractions[0] > DENOISE_START
    assert all(r.progress.stage is Stage.DENOISE for r in bar)  # type: ignore[union-attr]
    assert bar[-1].progress.num_clips == 6  # type: ignore[union-attr]

    assert run.on_report(first, PartDoneReport("job1", SegmentPart(0, 3))) == []
    assert not run.has_waiting  # the assembly waits for the last segment
    assert run.on_report(second, PartDoneReport("job1", SegmentPart(3, 6))) == []
    assemble = run.next_part()
    assert assemble.part == AssemblePart(PLAN)
    late = ProgressReport("job1", Progress(Stage.PREPARE, 0, 0, 0, 0, 0.01))
    assert run.on_report(assemble, late)[0].progress.fraction >= fractions[-1]  # type: ignore[union-attr]
    assert run.on_report(assemble, DONE) == [DONE]
    assert run.ended


def test_a_take_too_short_to_split_runs_whole() -> None:
    run = SplitRun(SPEC, 2, 3)
    plan_part = run.next_part()
    run.on_report(plan_part, PartDoneReport("job1", PlanPart(2, 3), SegmentPlan(4)))
    whole = run.next_part()
    assert whole == SPEC  # the job itself, its track and audio features kept by the plan
    assert run.on_report(whole, DONE) == [DONE]


def test_a_failed_part_ends_the_job_once() -> None:
    run = SplitRun(SPEC, 2, 3)
    first, second = _planned(run)
    failed = FailedReport("job1", ErrorInfo("internal", "boom", "retry"), worker_exits=False)
    assert run.on_report(second, failed) == [failed]
    assert run.ended and not run.has_waiting
    assert run.on_report(first, CancelledReport("job1")) == []  # the other part, stopped
    assert run.on_report(first, _step(1, 1)) == []


def test_a_lost_part_runs_next() -> None:
    run = SplitRun(SPEC, 2, 3)
    first, _second = _planned(run)
    run.requeue(first)
    assert run.has_waiting and run.next_part() == first


@pytest.mark.parametrize(
    ("options", "num_actors", "expected"),
    [
        (FarmOptions(min_segment_windows=1), 2, 2),  # 2 windows, 1 each
        (FarmOptions(min_segment_windows=1), 1, 1),  # one actor: never split
        (FarmOptions(max_segments=3, min_segment_windows=1), 1, 3),  # asked for
        (FarmOptions(max_segments=1, min_segment_windows=1), 4, 1),  # never
        (FarmOptions(), 4, 1),  # 2 windows are less than two segments of 3
    ],
)
def test_which_jobs_are_split(
    tmp_path: Path, options: FarmOptions, num_actors: int, expected: int
) -> None:
    clip = make_clip(tmp_path, "two", 3.2, seed=1)  # 2 windows
    spec = WorkerSpec("j", clip.otio, {}, tmp_path, tmp_path / "t.mp4", VramPolicy.RESIDENT)
    assert segments_for(options, spec, num_actors) == expected
