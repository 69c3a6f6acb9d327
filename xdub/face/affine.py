"""Top-down crop geometry of mmpose (``GetBBoxCenterScale`` + ``TopdownAffine``).

``warp_affine_linear`` re-implements OpenCV 4.x ``cv2.warpAffine(..., INTER_LINEAR,
BORDER_CONSTANT 0)`` for uint8 images bit-exactly, in integer arithmetic: X-Dub pins
opencv-python 4.13, and OpenCV 5's ``warpAffine`` rounds differently (1–5 levels on ~2 % of the
crop's values), so the crop must not depend on whichever OpenCV is installed.
"""

from __future__ import annotations

import cv2
import numpy as np

_AB_BITS = 10
"""OpenCV's fixed-point precision of mapped coordinates: 1/1024 px."""
_INTER_BITS = 5
"""Sub-pixel bits of the bilinear weight table (32 × 32 entries)."""
_TAB = 1 << _INTER_BITS
_COEF_BITS = 15
"""Bilinear weights sum to 2**15."""


def bbox_center_scale(
    bbox_xyxy: np.ndarray, padding: float = 1.25
) -> tuple[np.ndarray, np.ndarray]:
    """``(4,)`` float32 xyxy box → centre ``(2,)`` and padded size ``(2,)``, float32 pixels."""
    box = np.asarray(bbox_xyxy, dtype=np.float32)
    center = (box[2:] + box[:2]) * np.float32(0.5)
    scale = (box[2:] - box[:2]) * np.float32(padding)
    return center, scale


def fix_aspect_ratio(scale: np.ndarray, aspect_ratio: float) -> np.ndarray:
    """Grow ``(w, h)`` float32 to aspect ``a``: ``(w, w/a)`` if ``w > h·a``, else ``(h·a, h)``."""
    w, h = np.float32(scale[0]), np.float32(scale[1])
    a = np.float32(aspect_ratio)
    return np.array([w, w / a] if w > h * a else [h * a, h], dtype=np.float32)


def _third_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``b`` plus ``a − b`` turned 90° anticlockwise (float32), mmpose's ``_get_3rd_point``."""
    d = a - b
    return b + np.array([-d[1], d[0]], dtype=np.float32)


def warp_matrix(center: np.ndarray, scale: np.ndarray, output_size: tuple[int, int]) -> np.ndarray:
    """``(2, 3)`` float64 image→crop affine map of mmpose's ``get_warp_matrix`` (rotation 0).

    Built, as mmpose does, from three float32 point pairs through ``cv2.getAffineTransform``.
    ``center``/``scale`` are float32 pixels, ``output_size`` is the crop ``(width, height)``.
    """
    dst_w, dst_h = output_size
    src = np.zeros((3, 2), dtype=np.float32)
    dst = np.zeros((3, 2), dtype=np.float32)
    src[0] = center.astype(np.float64)
    src[1] = center.astype(np.float64) + np.array([float(scale[0]) * -0.5, 0.0])
    dst[0] = [dst_w * 0.5, dst_h * 0.5]
    dst[1] = [0.0, dst_h * 0.5]
    src[2] = _third_point(src[0], src[1])
    dst[2] = _third_point(dst[0], dst[1])
    return cv2.getAffineTransform(src, dst)


def _invert_affine(m: np.ndarray) -> tuple[float, float, float, float, float, float]:
    """OpenCV's in-place inversion inside ``warpAffine`` (float64, same operation order)."""
    m0, m1, m2, m3, m4, m5 = (float(v) for v in m.reshape(6))
    det = m0 * m4 - m1 * m3
    inv_det = 1.0 / det if det != 0 else 0.0
    a0, a1, a3, a4 = m4 * inv_det, m1 * -inv_det, m3 * -inv_det, m0 * inv_det
    return a0, a1, -a0 * m2 - a1 * m5, a3, a4, -a3 * m2 - a4 * m5


def warp_affine_linear(
    image: np.ndarray, matrix: np.ndarray, output_size: tuple[int, int]
) -> np.ndarray:
    """OpenCV-4.x-exact bilinear ``warpAffine`` of a ``(H, W, C)`` uint8 image, zero border.

    ``matrix`` is the ``(2, 3)`` forward (image→output) map; returns ``(out_h, out_w, C)``
    uint8 for ``output_size = (out_w, out_h)``. Each output pixel's source position is
    computed in 1/1024 px fixed point, quantised to 1/32 px, and blended with integer weights
    ``(32 − f)·f``-style that sum to 2**15, rounding half up.
    """
    if image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError(f"expected an (H, W, C) uint8 image, got {image.dtype} {image.shape}")
    out_w, out_h = output_size
    a0, a1, a2, a3, a4, a5 = _invert_affine(matrix)
    # 1. Source coordinates in 1/32 px: per-column deltas plus a per-row base, as OpenCV sums them.
    scale = float(1 << _AB_BITS)
    cols = np.arange(out_w, dtype=np.float64)
    rows = np.arange(out_h, dtype=np.float64)
    round_delta = (1 << _AB_BITS) // _TAB // 2
    x_delta = np.rint(a0 * cols * scale).astype(np.int64)
    y_delta = np.rint(a3 * cols * scale).astype(np.int64)
    x_base = np.rint((a1 * rows + a2) * scale).astype(np.int64) + round_delta
    y_base = np.rint((a4 * rows + a5) * scale).astype(np.int64) + round_delta
    shift = _AB_BITS - _INTER_BITS
    x_fixed = (x_base[:, None] + x_delta[None, :]) >> shift
    y_fixed = (y_base[:, None] + y_delta[None, :]) >> shift
    sx = np.clip(x_fixed >> _INTER_BITS, -32768, 32767)
    sy = np.clip(y_fixed >> _INTER_BITS, -32768, 32767)
    fx = (x_fixed & (_TAB - 1)).astype(np.int32)
    fy = (y_fixed & (_TAB - 1)).astype(np.int32)
    # 2. Gather the 2×2 neighbourhood from a zero-padded copy; fully outside pixels become 0.
    h, w, channels = image.shape
    inside = (sx >= -1) & (sx <= w - 1) & (sy >= -1) & (sy <= h - 1)
    px = np.clip(sx, -1, w - 1) + 1
    py = np.clip(sy, -1, h - 1) + 1
    padded = np.zeros((h + 2, w + 2, channels), dtype=np.int32)
    padded[1:-1, 1:-1] = image
    flat = padded.reshape(-1, channels)
    top = py * (w + 2) + px
    bottom = top + (w + 2)
    unit = 1 << (_COEF_BITS - 2 * _INTER_BITS)
    wx1, wy1 = fx * unit, fy
    wx0, wy0 = (_TAB - fx) * unit, _TAB - fy
    acc = (
        flat[top] * (wy0 * wx0)[..., None]
        + flat[top + 1] * (wy0 * wx1)[..., None]
        + flat[bottom] * (wy1 * wx0)[..., None]
        + flat[bottom + 1] * (wy1 * wx1)[..., None]
    )
    out = (acc + (1 << (_COEF_BITS - 1))) >> _COEF_BITS
    out[~inside] = 0
    return np.clip(out, 0, 255).astype(np.uint8)
