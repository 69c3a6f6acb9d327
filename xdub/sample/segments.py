"""Split takes: a take's windows cut into contiguous segments that can denoise apart.

A segment ``[a, b)`` of windows starts at window ``a`` fresh, like a take's first window (no
motion frames from window ``a - 1``), so segments need not wait for each other; the take is
then decoded from every window's latents in order (``xdub.sample.clips.assemble_segments``),
and ``stitch_transition`` blends window ``a - 1``'s last latent with window ``a``'s second
one, the frames both cover, as it does at every window boundary. A split take therefore
differs from the unsplit one from window ``a`` on (a fresh start there), and equals itself
whichever order or machine ran its segments.

The boundary rule (``plan_segments``): at most ``max_segments`` segments, each at least
``min_windows`` windows (so short takes are never split); near each even split, within a
quarter of a segment's length, the window boundary where the dialogue is quietest (a pause),
the nearest to the even split on a tie.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from xdub.sample.windows import AUDIO_SAMPLE_RATE_HZ, VIDEO_FPS, WindowPlan

MIN_SEGMENT_WINDOWS = 3
"""Windows per segment at least (3 windows: 9.4 s at 25 fps)."""
PAUSE_MARGIN_S = 0.2
"""Audio either side of a boundary's 5 overlap frames that counts for its loudness."""


@dataclass(frozen=True)
class SegmentPlan:
    """``starts``: the first window of each segment (``starts[0] == 0``), in order."""

    num_windows: int
    starts: tuple[int, ...] = (0,)

    def __post_init__(self) -> None:
        if not self.starts or self.starts[0] != 0:
            raise ValueError(f"a segment plan starts at window 0, not {self.starts}")
        if list(self.starts) != sorted(set(self.starts)) or self.starts[-1] >= self.num_windows:
            raise ValueError(f"segment starts {self.starts} do not fit {self.num_windows} windows")

    @property
    def ranges(self) -> list[tuple[int, int]]:
        """``[(a, b), ...]``: the windows of each segment."""
        return list(zip(self.starts, [*self.starts[1:], self.num_windows], strict=True))

    @property
    def is_split(self) -> bool:
        return len(self.starts) > 1

    def to_json(self) -> dict[str, Any]:
        return {"num_windows": self.num_windows, "starts": list(self.starts)}

    @staticmethod
    def from_json(data: dict[str, Any]) -> SegmentPlan:
        return SegmentPlan(int(data["num_windows"]), tuple(int(s) for s in data["starts"]))


def boundary_loudness(samples_16k: np.ndarray, num_windows: int, plan: WindowPlan) -> list[float]:
    """RMS of the dialogue around each window boundary ``k`` (index k: window k's start,
    frames ``72k .. 72k + 5``, plus ``PAUSE_MARGIN_S`` either side); index 0 is 0."""
    loudness = [0.0]
    per_frame = AUDIO_SAMPLE_RATE_HZ / VIDEO_FPS
    margin = int(PAUSE_MARGIN_S * AUDIO_SAMPLE_RATE_HZ)
    for window in range(1, num_windows):
        first_frame = window * plan.stride
        start = max(0, int(first_frame * per_frame) - margin)
        stop = int((first_frame + plan.motion_num_frames) * per_frame) + margin
        part = np.asarray(samples_16k[start:stop], dtype=np.float64)
        loudness.append(float(np.sqrt(np.mean(part**2))) if len(part) else 0.0)
    return loudness


def plan_segments(
    num_windows: int,
    max_segments: int,
    loudness: Sequence[float],
    min_windows: int = MIN_SEGMENT_WINDOWS,
) -> SegmentPlan:
    """The segments of a take of ``num_windows`` windows (the rule in the module docstring);
    ``loudness``: ``boundary_loudness`` of the take's dialogue."""
    if min_windows < 1:
        raise ValueError("a segment has at least one window")
    count = max(1, min(max_segments, num_windows // min_windows))
    starts = [0]
    radius = num_windows // count // 4
    for index in range(1, count):
        even = round(index * num_windows / count)
        low = max(even - radius, starts[-1] + min_windows)
        high = min(even + radius, num_windows - (count - index) * min_windows)
        candidates = range(low, high + 1) if low <= high else range(even, even + 1)
        starts.append(min(candidates, key=lambda k: (loudness[k], abs(k - even), k)))
    return SegmentPlan(num_windows, tuple(starts))
