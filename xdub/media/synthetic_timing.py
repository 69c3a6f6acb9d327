"""Presentation times of synthetic frames: constant rate, or seeded irregular (phone-like) VFR."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

VFR_TICKS_PER_S = 90_000
"""Time base of variable-frame-rate output (the MPEG 90 kHz clock); VFR times are whole ticks."""
VFR_DURATION_RANGE = (0.55, 1.45)
"""A VFR frame lasts this many nominal frame durations (uniform) ..."""
VFR_DROP_PROBABILITY = 0.1
"""... or, with this probability, two (a dropped frame)."""


def frame_times_s(
    fps: Fraction, duration_s: float, seed: int, *, is_vfr: bool
) -> tuple[list[float], float]:
    """Frame start times (seconds, first 0) and the clip's duration (end of the last frame).

    Constant rate: ``round(duration_s * fps)`` frames (at least one) at ``i / fps``. VFR: frames
    of irregular length around ``1 / fps`` until ``duration_s``, on the 90 kHz clock.
    """
    if not is_vfr:
        num_frames = max(1, round(duration_s * fps))
        return [float(index / fps) for index in range(num_frames)], float(num_frames / fps)
    rng = np.random.default_rng([seed, VFR_TICKS_PER_S])
    nominal_ticks = float(VFR_TICKS_PER_S / fps)
    end_tick = max(1, round(duration_s * VFR_TICKS_PER_S))
    ticks = [0]
    while True:
        if rng.random() < VFR_DROP_PROBABILITY:
            step = 2.0
        else:
            step = float(rng.uniform(*VFR_DURATION_RANGE))
        next_tick = ticks[-1] + max(1, round(step * nominal_ticks))
        if next_tick > end_tick - nominal_ticks / 2:  # the last frame keeps a fair length
            break
        ticks.append(next_tick)
    return [tick / VFR_TICKS_PER_S for tick in ticks], end_tick / VFR_TICKS_PER_S
