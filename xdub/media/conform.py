"""Frame-rate conform by timestamp: source frames <-> the model's 25 fps frames.

Target frame ``k`` starts at ``k / target_fps`` seconds and lasts ``1 / target_fps``. Source times
are seconds since the first source frame (as ``decode.iter_frames`` gives them), in any rate,
constant or variable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from xdub.media.fps import MODEL_FPS

TIME_EPSILON_S = 1e-6
"""Timestamps this close count as equal (float rounding of k / fps); far below any frame gap."""


def num_target_frames(duration_s: float, target_fps: Fraction = MODEL_FPS) -> int:
    """Target frames needed to cover ``duration_s`` (at least one)."""
    return max(1, math.ceil(duration_s * target_fps - TIME_EPSILON_S))


def conform_times(
    src_times_s: Sequence[float] | np.ndarray,
    *,
    target_fps: Fraction = MODEL_FPS,
    duration_s: float,
) -> list[int]:
    """For each target frame covering ``duration_s``, the index of the source frame on screen at
    its start time: the last source frame starting at or before it (the first, before any).

    ``src_times_s``: (N,) ascending seconds. Returns ``num_target_frames(duration_s)`` indices.
    """
    src = _ascending(src_times_s)
    count = num_target_frames(duration_s, target_fps)
    target_s = np.arange(count, dtype=np.float64) * target_fps.denominator / target_fps.numerator
    shown = np.searchsorted(src, target_s + TIME_EPSILON_S, side="right") - 1
    return np.maximum(shown, 0).tolist()


def covering_target_frames(
    src_times_s: Sequence[float] | np.ndarray,
    *,
    target_fps: Fraction = MODEL_FPS,
    num_target: int,
) -> list[int]:
    """For each source frame, the target frame whose interval holds its start time, clamped to
    ``[0, num_target)``: which generated frame to paste back into it.

    ``src_times_s``: (N,) ascending seconds. Returns N indices.
    """
    src = _ascending(src_times_s)
    covering = np.floor((src + TIME_EPSILON_S) * float(target_fps)).astype(np.int64)
    return np.clip(covering, 0, num_target - 1).tolist()


def _ascending(times_s: Sequence[float] | np.ndarray) -> np.ndarray:
    times = np.asarray(times_s, dtype=np.float64)
    if times.ndim != 1 or len(times) == 0:
        raise ValueError(f"expected a non-empty (N,) array of times, got shape {times.shape}")
    if np.any(np.diff(times) < 0):
        raise ValueError("source times must be ascending")
    return times
