"""Preservation outside the mouth: PSNR and SSIM of a take frame against its source frame with
the mouth region left out, and temporal flicker.

X-Dub is mask-free: it regenerates the whole face crop, so drift of the background, hair,
skin or lighting shows as a PSNR/SSIM drop outside the mouth. Flicker is the take's
frame-to-frame change minus the source's at the same pixels (what the take adds to the motion
that was there). All images are ``(H, W, 3)`` uint8 RGB, upright; boxes are float
``x1, y1, x2, y2`` in pixels (pixel (i, j) spans ``[j, j+1) x [i, i+1)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

PEAK = 255.0
SSIM_SIGMA_PX = 1.5
"""Gaussian window of SSIM (Wang et al. 2004), on luma."""
SSIM_RADIUS_PX = math.ceil(3 * SSIM_SIGMA_PX)
"""The window is cut at 3 sigma."""
SSIM_C1 = (0.01 * PEAK) ** 2
SSIM_C2 = (0.03 * PEAK) ** 2


def keep_mask(height: int, width: int, mouth_box: np.ndarray | None) -> np.ndarray:
    """``(H, W)`` bool, True outside the mouth box (everywhere when there is no box)."""
    mask = np.ones((height, width), dtype=bool)
    if mouth_box is None:
        return mask
    x1, y1, x2, y2 = (float(v) for v in mouth_box)
    cols = slice(max(0, math.floor(x1)), max(0, min(width, math.ceil(x2))))
    rows = slice(max(0, math.floor(y1)), max(0, min(height, math.ceil(y2))))
    mask[rows, cols] = False
    return mask


def _masked_mean(image: np.ndarray, mask: np.ndarray) -> float:
    """Mean over the ``mask`` pixels and all channels (0.0 for an empty mask)."""
    count = int(np.count_nonzero(mask))
    if count == 0:
        return 0.0
    channel_means = cv2.mean(image, mask=mask.view(np.uint8))
    channels = 1 if image.ndim == 2 else image.shape[2]
    return float(sum(channel_means[:channels]) / channels)


def mse(source: np.ndarray, take: np.ndarray, mask: np.ndarray) -> float:
    """Mean squared error over the ``mask`` pixels and all channels, in (0..255)^2."""
    diff = cv2.absdiff(source, take).astype(np.float32)
    return _masked_mean(diff * diff, mask)


def psnr_db(mean_squared_error: float) -> float:
    """PSNR in dB of an MSE in (0..255)^2; ``inf`` for identical pixels."""
    if mean_squared_error <= 0:
        return math.inf
    return 10.0 * math.log10(PEAK * PEAK / mean_squared_error)


def ssim(source: np.ndarray, take: np.ndarray, mask: np.ndarray) -> float:
    """Mean SSIM of the two frames' luma over the ``mask`` pixels whose Gaussian window does not
    reach outside the mask (so a changed mouth does not leak into it); 1.0 for identical
    frames."""
    inside = _eroded(mask)
    if not inside.any():
        return 1.0
    a, b = _luma(source), _luma(take)
    mu_a, mu_b = _blur(a), _blur(b)
    var_a = _blur(a * a) - mu_a * mu_a
    var_b = _blur(b * b) - mu_b * mu_b
    cov = _blur(a * b) - mu_a * mu_b
    numerator = (2 * mu_a * mu_b + SSIM_C1) * (2 * cov + SSIM_C2)
    denominator = (mu_a * mu_a + mu_b * mu_b + SSIM_C1) * (var_a + var_b + SSIM_C2)
    return _masked_mean(numerator / denominator, inside)


def _eroded(mask: np.ndarray) -> np.ndarray:
    """``mask`` shrunk by the SSIM window's reach (3 sigma); whole-frame masks stay whole."""
    if mask.all():
        return mask
    radius = SSIM_RADIUS_PX
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), dtype=np.uint8)
    shrunk = cv2.erode(mask.astype(np.uint8), kernel, borderType=cv2.BORDER_REPLICATE)
    return shrunk.astype(bool)


def _luma(image: np.ndarray) -> np.ndarray:
    """BT.601 luma, float32 0..255."""
    return image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _blur(image: np.ndarray) -> np.ndarray:
    size = 2 * SSIM_RADIUS_PX + 1
    return cv2.GaussianBlur(image, (size, size), SSIM_SIGMA_PX, borderType=cv2.BORDER_REFLECT)


def frame_change(previous: np.ndarray, current: np.ndarray, mask: np.ndarray) -> float:
    """Mean absolute frame-to-frame change over the ``mask`` pixels, in 0..255 levels."""
    return _masked_mean(cv2.absdiff(previous, current), mask)


@dataclass(frozen=True)
class FramePreservation:
    """One take frame against its source frame, outside the mouth."""

    mse: float
    ssim: float
    flicker: float
    """Take's change since the previous frame minus the source's, in 0..255 levels (0 for
    the first frame)."""

    @property
    def psnr_db(self) -> float:
        return psnr_db(self.mse)


class PreservationMeter:
    """Measures frame pairs in order (streaming: only the previous pair is kept)."""

    def __init__(self) -> None:
        self._previous: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def measure(
        self, source: np.ndarray, take: np.ndarray, mouth_box: np.ndarray | None
    ) -> FramePreservation:
        """The next pair: ``source``/``take`` ``(H, W, 3)`` uint8; ``mouth_box (4,)`` or None."""
        if source.shape != take.shape:
            raise ValueError(f"source {source.shape} and take {take.shape} differ in size")
        mask = keep_mask(source.shape[0], source.shape[1], mouth_box)
        flicker = 0.0
        if self._previous is not None:
            previous_source, previous_take, previous_mask = self._previous
            both = mask & previous_mask  # outside the mouth in both frames
            flicker = frame_change(previous_take, take, both) - frame_change(
                previous_source, source, both
            )
        self._previous = (source, take, mask)
        return FramePreservation(mse(source, take, mask), ssim(source, take, mask), flicker)
