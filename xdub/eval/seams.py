"""Window seams: the preservation measures on the frames around each window boundary vs
elsewhere.

The model makes a take in 77-frame windows (25 fps) that overlap by 5 motion frames
(``xdub.sample.windows``); window ``k`` starts at model frame ``72 k``. A seam shows as a
PSNR/SSIM dip or a flicker spike on the overlap frames ``[72 k, 72 k + 5)``, so the frames
from ``SEAM_MARGIN_FRAMES`` before to as many after the overlap count as "near the seam".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from xdub.eval.preservation import psnr_db
from xdub.sample.windows import VIDEO_FPS, WindowPlan

SEAM_MARGIN_FRAMES = 2
"""Model frames either side of the 5-frame overlap that still count as near the seam."""


def seam_starts(num_model_frames: int, plan: WindowPlan | None = None) -> list[int]:
    """First model frame of every window after the first that falls inside the take."""
    plan = plan or WindowPlan()
    starts = plan.clip_starts(plan.total_length(num_model_frames))
    return [start for start in starts[1:] if start < num_model_frames]


def near_seam(times_s: np.ndarray, starts: list[int], plan: WindowPlan | None = None) -> np.ndarray:
    """``(F,)`` bool: the frames at ``times_s`` (seconds from the take's first frame) whose
    25 fps model frame lies within the margin of a window overlap."""
    plan = plan or WindowPlan()
    model = np.floor(np.asarray(times_s, dtype=np.float64) * VIDEO_FPS + 1e-6).astype(np.int64)
    near = np.zeros(model.shape, dtype=bool)
    for start in starts:
        lo = start - SEAM_MARGIN_FRAMES
        hi = start + plan.motion_num_frames + SEAM_MARGIN_FRAMES
        near |= (model >= lo) & (model < hi)
    return near


@dataclass(frozen=True)
class SeamSummary:
    """The measures near the seams and elsewhere; ``None`` where a group has no frames.

    ``psnr_drop_db``: PSNR elsewhere minus near the seams (positive: the seams are worse);
    ``flicker_rise``: mean flicker near the seams minus elsewhere, in 0..255 levels.
    """

    seam_times_s: tuple[float, ...]
    num_near_frames: int
    psnr_near_db: float | None
    psnr_elsewhere_db: float | None
    ssim_near: float | None
    ssim_elsewhere: float | None
    flicker_near: float | None
    flicker_elsewhere: float | None

    @property
    def psnr_drop_db(self) -> float | None:
        if self.psnr_near_db is None or self.psnr_elsewhere_db is None:
            return None
        if math.isinf(self.psnr_near_db) and math.isinf(self.psnr_elsewhere_db):
            return 0.0
        return self.psnr_elsewhere_db - self.psnr_near_db

    @property
    def flicker_rise(self) -> float | None:
        if self.flicker_near is None or self.flicker_elsewhere is None:
            return None
        return self.flicker_near - self.flicker_elsewhere


def summarize_seams(
    starts: list[int],
    near: np.ndarray,
    mse: np.ndarray,
    ssim: np.ndarray,
    flicker: np.ndarray,
) -> SeamSummary:
    """Group the per-frame ``mse``/``ssim``/``flicker`` ``(F,)`` by ``near`` ``(F,)`` bool."""

    def pooled_psnr(group: np.ndarray) -> float | None:
        return psnr_db(float(mse[group].mean())) if group.any() else None

    def mean(values: np.ndarray, group: np.ndarray) -> float | None:
        return float(values[group].mean()) if group.any() else None

    far = ~near
    return SeamSummary(
        seam_times_s=tuple(start / VIDEO_FPS for start in starts),
        num_near_frames=int(near.sum()),
        psnr_near_db=pooled_psnr(near),
        psnr_elsewhere_db=pooled_psnr(far),
        ssim_near=mean(ssim, near),
        ssim_elsewhere=mean(ssim, far),
        flicker_near=mean(flicker, near),
        flicker_elsewhere=mean(flicker, far),
    )
