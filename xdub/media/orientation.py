"""Display rotation: between coded frames (as stored) and upright frames (as shown).

Convention (FFmpeg's display matrix, PyAV's ``VideoFrame.rotation``): ``rotation_deg`` is the
counter-clockwise angle by which a player turns the coded frame to show it. A phone held upright
typically stores landscape frames with ``rotation_deg = -90`` (turn 90 degrees clockwise).
"""

from __future__ import annotations

import numpy as np

from xdub.errors import MediaError

RIGHT_ANGLES_DEG = (0, 90, 180, -90)
"""The rotations we honour; others (rare, skewed matrices) are refused."""


def normalize_rotation(rotation_deg: float) -> int:
    """``rotation_deg`` snapped to one of 0, 90, 180, -90 (270 is -90, -180 is 180)."""
    quarter_turns = round(rotation_deg / 90.0)
    if abs(quarter_turns * 90.0 - rotation_deg) > 1.0:
        raise MediaError(
            f"display rotation {rotation_deg:g} degrees is not a multiple of 90",
            code="bad_rotation",
            hint="re-export the clip upright (without rotation metadata)",
        )
    return {0: 0, 1: 90, 2: 180, 3: -90}[quarter_turns % 4]


def display_size(width: int, height: int, rotation_deg: int) -> tuple[int, int]:
    """(width, height) as shown, given the coded size and the display rotation."""
    return (height, width) if rotation_deg in (90, -90) else (width, height)


def to_upright(coded: np.ndarray, rotation_deg: int) -> np.ndarray:
    """Turn a coded (H, W, C) frame into the upright image shown; contiguous, same dtype."""
    return np.ascontiguousarray(np.rot90(coded, k=rotation_deg // 90))


def to_coded(upright: np.ndarray, rotation_deg: int) -> np.ndarray:
    """The inverse of ``to_upright``: the frame to store so that players show ``upright``."""
    return np.ascontiguousarray(np.rot90(upright, k=-(rotation_deg // 90)))
