"""``TakePlan.schedule``: what the one source decode must have done before each window, what
each window lets the paste write, and that the frames waiting between them stay bounded."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from xdub.media.probe import MediaInfo, MediaScan
from xdub.media.timestamps import FrameTimes
from xdub.sample.windows import WindowPlan, pingpong_indices
from xdub.take_plan import plan_take

WINDOWS = WindowPlan()


def _scan(fps: Fraction, duration_s: float) -> MediaScan:
    num_frames = int(duration_s * fps)
    time_base = Fraction(1, 90000)
    ticks = (np.arange(num_frames) * (90000 / fps)).astype(np.int64)
    times = FrameTimes(ticks, time_base, int(90000 / fps))
    info = MediaInfo(
        path=Path("clip.mp4"), container_format="mp4", video_codec="h264",
        pixel_format="yuv420p", width=1920, height=1080, display_width=1920,
        display_height=1080, rotation_deg=0, fps=fps, is_vfr=False, num_frames=num_frames,
        duration_s=times.duration_s, start_time_s=0.0, timecode=None, has_audio=False,
        audio_codec=None, audio_sample_rate_hz=None, audio_num_channels=None,
    )  # fmt: skip
    return MediaScan(info, times)


@pytest.mark.parametrize("fps", [Fraction(25), Fraction(24000, 1001), Fraction(50)])
@pytest.mark.parametrize("duration_s", [2.0, 3.4, 20.0])
def test_each_window_finds_its_crops_decoded_and_pastes_only_final_faces(
    fps: Fraction, duration_s: float
) -> None:
    plan = plan_take(_scan(fps, duration_s), None)
    total = WINDOWS.total_length(plan.num_model_frames)
    schedule = plan.schedule(WINDOWS, total)
    starts = WINDOWS.clip_starts(total)
    order = pingpong_indices(plan.num_model_frames, total)
    assert schedule.num_windows == len(starts)
    assert schedule.decode_stops == sorted(schedule.decode_stops)
    assert schedule.paste_stops == sorted(schedule.paste_stops)
    assert schedule.decode_stops[-1] == schedule.paste_stops[-1] == plan.info.num_frames
    for window, start in enumerate(starts):
        decoded = schedule.decode_stops[window]
        needed = order[start : start + WINDOWS.clip_num_frames]
        assert all(plan.model_sources[m] < decoded for m in needed)
        pasted = schedule.paste_stops[window]
        assert pasted <= decoded
        if window + 1 < len(starts):
            final_through = start + WINDOWS.stride  # the next window changes what follows
            assert all(plan.covering[i] <= final_through for i in range(pasted))


def test_the_frames_waiting_for_their_paste_do_not_grow_with_the_clip() -> None:
    held = {}
    for duration_s in (15.0, 60.0, 600.0):
        plan = plan_take(_scan(Fraction(50), duration_s), None)
        schedule = plan.schedule(WINDOWS, WINDOWS.total_length(plan.num_model_frames))
        held[duration_s] = schedule.frames_held(lookahead=1, lag=1)
        assert schedule.frames_held(lookahead=0, lag=0) < held[duration_s]
    assert len(set(held.values())) == 1
    assert held[15.0] <= 2 * (3 * WINDOWS.stride + WINDOWS.clip_num_frames)  # 50 fps: 2 per
