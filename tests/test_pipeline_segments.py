"""A split take made here, one segment after the other (``xdub.sample.segments``): a
one-segment plan is the plain take exactly; a two-segment take starts its second segment
fresh (so it differs from the plain take) and equals the take decoded from its segments'
states assembled, which is how a farm's segments become one take."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from support.takes import ONE_STEP, frames_md5, tiny_clip

from xdub.errors import JobError
from xdub.pipeline import DubPipeline
from xdub.sample.clips import LoopState, assemble_segments
from xdub.sample.segments import SegmentPlan


@pytest.fixture(scope="module")
def pipeline(tiny_model_dir: Path) -> DubPipeline:
    return DubPipeline(tiny_model_dir, device="cpu", precision="fp32")


@pytest.mark.timeout(1800)  # four 2-window takes on a loaded 2-core machine
def test_split_takes_are_exact_and_assemble_from_their_segments(
    pipeline: DubPipeline, tmp_path: Path
) -> None:
    video, audio = tiny_clip(tmp_path, 3.3, Fraction(24000, 1001))  # 2 windows
    plain = pipeline.run(video, audio, tmp_path / "plain.mp4", ONE_STEP)
    assert plain.num_windows == 2
    one = pipeline.run(video, audio, tmp_path / "one.mp4", ONE_STEP, segments=SegmentPlan(2))
    assert frames_md5(one.output) == frames_md5(plain.output)

    states: list[LoopState] = []
    split = SegmentPlan(2, (0, 1))
    pipeline.run(
        video,
        audio,
        tmp_path / "split.mp4",
        ONE_STEP,
        segments=split,
        on_window=lambda _done, _n, state: states.append(state),
    )
    split_md5 = frames_md5(tmp_path / "split.mp4")
    assert split_md5 != frames_md5(plain.output)  # window 1 started fresh
    latents = states[-1].window_latents
    segments = [LoopState(latents[:1], None, 0), LoopState(latents[1:], None, 1)]
    resume = assemble_segments(segments, split)
    assembled = tmp_path / "assembled.mp4"
    pipeline.run(video, audio, assembled, ONE_STEP, resume=resume)  # decode, paste, write
    assert frames_md5(assembled) == split_md5


def test_a_plan_of_another_take_is_refused(pipeline: DubPipeline, tmp_path: Path) -> None:
    video, audio = tiny_clip(tmp_path, 0.4, Fraction(25))  # 1 window
    with pytest.raises(JobError) as raised:
        pipeline.run(video, audio, tmp_path / "t.mp4", ONE_STEP, segments=SegmentPlan(3, (0, 1)))
    assert raised.value.code == "bad_range"


@pytest.mark.timeout(1800)
def test_segments_denoised_apart_make_the_split_take(pipeline: DubPipeline, tmp_path: Path) -> None:
    """A farm's way: plan once (face track and audio features kept), denoise each segment
    on its own, in any order, with no shared state but the files, assemble, write: the same
    frames as the split take made in one run."""
    video, audio = tiny_clip(tmp_path, 3.3, Fraction(24000, 1001))  # 2 windows
    track_cache = tmp_path / "track.npz"
    plan = pipeline.plan_segments(video, audio, 2, ONE_STEP, min_windows=1, track_cache=track_cache)
    assert plan == SegmentPlan(2, (0, 1))
    assert track_cache.is_file()
    whole = pipeline.run(video, audio, tmp_path / "whole.mp4", ONE_STEP, segments=plan)

    checkpoints: list[LoopState] = []
    second = pipeline.denoise_segment(
        video,
        audio,
        (1, 2),
        ONE_STEP,
        track_cache=track_cache,
        on_window=lambda _done, _n, state: checkpoints.append(state),
    )
    first = pipeline.denoise_segment(video, audio, (0, 1), ONE_STEP, track_cache=track_cache)
    assert (first.first_window, first.windows_done) == (0, 1)
    assert (second.first_window, second.windows_done) == (1, 2)
    assert checkpoints[-1].windows_done == 2
    again = pipeline.denoise_segment(
        video, audio, (1, 2), ONE_STEP, resume=second, track_cache=track_cache
    )
    assert again.window_latents[0] is second.window_latents[0]  # a finished segment is kept

    out = tmp_path / "farm.mp4"
    pipeline.run(
        video,
        audio,
        out,
        ONE_STEP,
        resume=assemble_segments([first, second], plan),
        segments=plan,
        track_cache=track_cache,
    )
    assert frames_md5(out) == frames_md5(whole.output)


def test_a_segment_outside_the_take_is_refused(pipeline: DubPipeline, tmp_path: Path) -> None:
    video, audio = tiny_clip(tmp_path, 0.4, Fraction(25))  # 1 window
    with pytest.raises(JobError) as raised:
        pipeline.denoise_segment(video, audio, (1, 2), ONE_STEP)
    assert raised.value.code == "bad_range"
