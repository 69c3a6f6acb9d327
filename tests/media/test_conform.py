"""conform_times() / covering_target_frames(): 25 fps <-> source frames, by timestamp."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import pytest

from xdub.media.conform import conform_times, covering_target_frames, num_target_frames
from xdub.media.decode import iter_frames
from xdub.media.fps import MODEL_FPS, STANDARD_FPS
from xdub.media.synthetic import SyntheticClip

MakeClip = Callable[..., SyntheticClip]


def shown_at(times_s: list[float], time_s: Fraction) -> int:
    """Brute force: the last frame starting at or before ``time_s`` (exact comparison)."""
    earlier = [i for i, t in enumerate(times_s) if Fraction(t) <= time_s + Fraction(1, 10**7)]
    return earlier[-1] if earlier else 0


@pytest.mark.parametrize(
    "fields",
    [
        {"fps": STANDARD_FPS["23.976"]},
        {"fps": STANDARD_FPS["29.97"]},
        {"fps": STANDARD_FPS["50"]},
        {"fps": Fraction(30), "is_vfr": True, "seed": 5},
    ],
    ids=["23.976", "29.97", "50", "vfr"],
)
def test_each_25fps_frame_takes_the_source_frame_on_screen(make_clip: MakeClip, fields: dict):
    clip = make_clip(duration_s=1.3, **fields)
    times = [frame.time_s for frame in iter_frames(clip.path)]
    mapping = conform_times(times, duration_s=clip.duration_s)
    assert len(mapping) == num_target_frames(clip.duration_s)
    assert mapping == [shown_at(times, k / MODEL_FPS) for k in range(len(mapping))]
    assert mapping == sorted(mapping) and mapping[0] == 0

    inverse = covering_target_frames(times, num_target=len(mapping))
    assert len(inverse) == len(times)
    for source_index, target_index in enumerate(inverse):
        start, end = target_index / MODEL_FPS, (target_index + 1) / MODEL_FPS
        assert start <= Fraction(times[source_index]) + Fraction(1, 10**7) < end or (
            target_index == len(mapping) - 1  # a source frame past the end keeps the last one
        )
    # Round trip: the source frame a target frame shows is pasted from that target frame
    # or from an earlier one (when the source frame is held across several targets).
    for target_index, source_index in enumerate(mapping):
        assert inverse[source_index] <= target_index


def test_rate_specific_patterns():
    at_50 = [i / 50 for i in range(100)]
    assert conform_times(at_50, duration_s=2.0) == list(range(0, 100, 2))
    assert covering_target_frames(at_50, num_target=50) == [i // 2 for i in range(100)]
    at_25 = [float(Fraction(i, 25)) for i in range(40)]
    assert conform_times(at_25, duration_s=1.6) == list(range(40))
    assert covering_target_frames(at_25, num_target=40) == list(range(40))
    at_23976 = [float(i / STANDARD_FPS["23.976"]) for i in range(48)]
    mapping = conform_times(at_23976, duration_s=48 / 23.976)
    assert len(mapping) == 51 and len(set(mapping)) == 48  # three source frames repeat


def test_target_frame_count_covers_the_duration():
    assert num_target_frames(2.0) == 50
    assert num_target_frames(2.002) == 51
    assert num_target_frames(0.001) == 1
    assert num_target_frames(1.0, Fraction(30000, 1001)) == 30


def test_bad_times_are_rejected():
    with pytest.raises(ValueError, match="ascending"):
        conform_times([0.0, 0.08, 0.04], duration_s=0.12)
    with pytest.raises(ValueError, match="non-empty"):
        covering_target_frames([], num_target=3)
