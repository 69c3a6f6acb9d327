"""The segment plan of a split take: boundaries on the window grid at the quietest boundary
near an even split, never a segment shorter than the minimum; and the assembly of segment
states into one take's state."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xdub.sample.clips import LoopState, assemble_segments
from xdub.sample.segments import SegmentPlan, boundary_loudness, plan_segments
from xdub.sample.windows import AUDIO_SAMPLE_RATE_HZ, WindowPlan

FLAT = [1.0] * 40


def test_an_even_split_when_the_dialogue_is_equally_loud_everywhere() -> None:
    assert plan_segments(12, 2, FLAT).starts == (0, 6)
    assert plan_segments(12, 4, FLAT).starts == (0, 3, 6, 9)
    assert plan_segments(13, 3, FLAT).ranges == [(0, 4), (4, 9), (9, 13)]


def test_the_quietest_boundary_near_the_even_split_wins() -> None:
    loudness = [1.0] * 20
    loudness[9] = 0.1  # a pause one window before the even split at 10
    loudness[3] = 0.0  # quieter, but too far from it
    assert plan_segments(20, 2, loudness).starts == (0, 9)


def test_short_takes_are_not_split_and_segments_keep_the_minimum_length() -> None:
    assert plan_segments(5, 4, FLAT).starts == (0,)  # 5 windows < 2 x 3
    assert not plan_segments(5, 4, FLAT).is_split
    assert plan_segments(7, 4, FLAT).starts == (0, 4)  # 2 segments at most
    loudness = [1.0] * 9
    loudness[1] = loudness[2] = 0.0  # quiet, but a segment there would be too short
    plan = plan_segments(9, 3, loudness)
    assert all(b - a >= 3 for a, b in plan.ranges), plan
    assert plan_segments(4, 2, FLAT, min_windows=2).starts == (0, 2)
    assert plan_segments(12, 1, FLAT).starts == (0,)


def test_the_plan_is_deterministic_and_survives_json() -> None:
    rng = np.random.default_rng(3)
    loudness = [float(x) for x in rng.random(30)]
    plan = plan_segments(30, 3, loudness)
    assert plan == plan_segments(30, 3, loudness)
    assert SegmentPlan.from_json(plan.to_json()) == plan
    with pytest.raises(ValueError):
        SegmentPlan(4, (1, 2))
    with pytest.raises(ValueError):
        SegmentPlan(4, (0, 4))


def test_boundary_loudness_finds_a_pause() -> None:
    plan = WindowPlan()
    num_windows = 4
    seconds = (77 + 72 * 3) / 25
    samples = np.full(int(seconds * AUDIO_SAMPLE_RATE_HZ), 0.5, dtype=np.float32)
    pause = int(2 * 72 / 25 * AUDIO_SAMPLE_RATE_HZ)  # window 2 starts at 5.76 s
    samples[pause - 8000 : pause + 8000] = 0.0
    loudness = boundary_loudness(samples, num_windows, plan)
    assert len(loudness) == num_windows and loudness[2] == 0.0
    assert loudness[1] == pytest.approx(0.5) and loudness[3] == pytest.approx(0.5)
    assert plan_segments(num_windows, 2, loudness, min_windows=1).starts == (0, 2)


def _state(first: int, count: int) -> LoopState:
    return LoopState([torch.full((1,), float(first + i)) for i in range(count)], None, first)


def test_segment_states_assemble_in_order_and_wrong_ones_are_refused() -> None:
    plan = SegmentPlan(5, (0, 2))
    whole = assemble_segments([_state(0, 2), _state(2, 3)], plan)
    assert whole.first_window == 0 and whole.windows_done == 5 and whole.motion_video is None
    assert [float(t) for t in whole.window_latents] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="is not segment"):
        assemble_segments([_state(0, 2), _state(2, 2)], plan)  # the second is unfinished
    with pytest.raises(ValueError):
        assemble_segments([_state(0, 2)], plan)
