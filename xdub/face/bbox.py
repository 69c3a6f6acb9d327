"""The crop track: face landmarks to one square crop box per frame, as X-Dub builds it.

Boxes are ``(F, 4)`` pixel ``x1, y1, x2, y2`` in the original frame. The float arithmetic
(float32 here, float64 there) follows the reference step for step, so the boxes match it to the
last bit; only the loops over frames are vectorised.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from xdub.errors import MediaError
from xdub.face.smoothing import centred_mean, savgol_edge_padded, savgol_mirror_passes

FOREHEAD_GAIN = 1.1
"""Forehead point: eye midpoint + 1.1 x (eye midpoint - jaw midpoint)."""
BOX_SCALE = 1.45
"""Square side as a multiple of the landmarks' larger extent."""
STATIC_TOLERANCE = 0.16
"""Case 1: every edge within this fraction of the union box from the union's edge."""
SIZE_TOLERANCE = 0.1
"""Case 2: every box side within this fraction of the mean side."""


class CropCase(IntEnum):
    """How the per-frame boxes are turned into the crop track (X-Dub's ``case_flag``)."""

    FORCED_FIX = 0
    STATIC = 1
    CONSTANT_SIZE = 2
    MOVING = 3


def face_boxes_from_landmarks(
    face_ldmk: np.ndarray, frame_width: int, frame_height: int, num_passes: int = 5
) -> np.ndarray:
    """Smoothed square face boxes, X-Dub's ``build_face_bbox_from_landmarks``.

    ``face_ldmk``: ``(F, 79, 2)`` normalised x/y in ``FACE_INDEX`` order (float32).
    Returns ``(F, 4)`` float64 pixel boxes (holding float32 values when F > 1).
    """
    if face_ldmk.ndim != 3 or face_ldmk.shape[1] < 4 or face_ldmk.shape[2] != 2:
        raise ValueError(f"expected (F, 79, 2) face landmarks, got shape {face_ldmk.shape}")
    num_frames = len(face_ldmk)
    if num_frames == 0:
        raise MediaError("no frames with face landmarks to build the crop track from")
    smoothed = savgol_mirror_passes(face_ldmk, num_passes)
    for window in (17, 7):
        window = min(window, num_frames)
        if window > 1:
            smoothed = centred_mean(smoothed, window, dtype=smoothed.dtype)
    eye_mid = (smoothed[:, 0] + smoothed[:, 1]) / 2
    jaw_mid = (smoothed[:, 2] + smoothed[:, 3]) / 2
    forehead = eye_mid + FOREHEAD_GAIN * (eye_mid - jaw_mid)
    points = np.concatenate([smoothed, forehead[:, None]], axis=1)
    xs = np.clip(points[..., 0], 0, 1) * frame_width
    ys = np.clip(points[..., 1], 0, 1) * frame_height
    boxes = _square_boxes(
        xs.min(axis=1).astype(np.float64),
        ys.min(axis=1).astype(np.float64),
        xs.max(axis=1).astype(np.float64),
        ys.max(axis=1).astype(np.float64),
        frame_width,
        frame_height,
    )
    if num_frames > 1:
        boxes = _resquare(centred_mean(boxes, min(7, num_frames))).astype(np.float64)
    return boxes


def _square_boxes(
    x1: np.ndarray, y1: np.ndarray, x2: np.ndarray, y2: np.ndarray, width: int, height: int
) -> np.ndarray:
    """``(F, 4)`` squares of side 1.45 x max extent about each box centre, moved into the frame.

    A square larger than the frame is replaced by a ``min(W, H)`` square (float64 throughout).
    """
    cx = (x1 + x2) / 2
    cy = (y1 + y2) / 2
    side = np.maximum(x2 - x1, y2 - y1) * BOX_SCALE
    nx1, nx2 = _clamp_shrinking(cx - side / 2, cx + side / 2, side, width)
    ny1, ny2 = _clamp_shrinking(cy - side / 2, cy + side / 2, side, height)
    too_big = (width < side) | (height < side)
    min_dim = float(min(width, height))
    sx1 = cx - min_dim / 2
    sy1 = cy - min_dim / 2
    sx1, sx2 = _shift_inside(sx1, sx1 + min_dim, min_dim, width)
    sy1, sy2 = _shift_inside(sy1, sy1 + min_dim, min_dim, height)
    return np.stack(
        [
            np.where(too_big, sx1, nx1),
            np.where(too_big, sy1, ny1),
            np.where(too_big, sx2, nx2),
            np.where(too_big, sy2, ny2),
        ],
        axis=1,
    )


def _clamp_shrinking(
    lo: np.ndarray, hi: np.ndarray, side: np.ndarray, limit: int
) -> tuple[np.ndarray, np.ndarray]:
    """Move ``[lo, hi]`` inside ``[0, limit]``, cutting it where ``side`` exceeds ``limit``."""
    below = lo < 0
    lo = np.where(below, 0.0, lo)
    hi = np.where(below, np.minimum(side, limit), hi)
    above = hi > limit
    hi = np.where(above, float(limit), hi)
    lo = np.where(above, np.maximum(0, limit - side), lo)
    return lo, hi


def _shift_inside(
    lo: np.ndarray, hi: np.ndarray, side: np.ndarray | float, limit: int
) -> tuple[np.ndarray, np.ndarray]:
    """Slide ``[lo, hi]`` (length ``side``) to start at 0 / end at ``limit`` when it sticks out.

    Arithmetic happens in the dtype of the operands, as in the reference's scalar code.
    """
    below = lo < 0
    lo = np.where(below, 0, lo)
    hi = np.where(below, 0 + side, hi)
    above = hi > limit
    hi = np.where(above, limit, hi)
    lo = np.where(above, limit - side, lo)
    return lo, hi


def _resquare(boxes: np.ndarray) -> np.ndarray:
    """Make non-square float32 boxes square (side = larger extent) about their centres."""
    width = boxes[:, 2] - boxes[:, 0]
    height = boxes[:, 3] - boxes[:, 1]
    half = np.maximum(width, height) / 2
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    squared = np.stack([cx - half, cy - half, cx + half, cy + half], axis=1)
    return np.where((width != height)[:, None], squared, boxes)


def judge_case_flag(boxes: np.ndarray) -> CropCase:
    """Pick the crop strategy for ``(F, 4)`` float64 boxes (X-Dub's ``judge_case_flag``)."""
    union = np.concatenate([boxes[:, :2].min(axis=0), boxes[:, 2:].max(axis=0)])
    tolerance_x = (union[2] - union[0]) * STATIC_TOLERANCE
    tolerance_y = (union[3] - union[1]) * STATIC_TOLERANCE
    gaps = np.abs(boxes - union)
    is_static = not (np.any(gaps[:, [0, 2]] > tolerance_x) or np.any(gaps[:, [1, 3]] > tolerance_y))
    if is_static:
        return CropCase.STATIC
    sides = boxes[:, 2] - boxes[:, 0]
    mean_side = np.mean(sides)
    lower = mean_side * (1 - SIZE_TOLERANCE)
    upper = mean_side * (1 + SIZE_TOLERANCE)
    if np.all((sides >= lower) & (sides <= upper)):
        return CropCase.CONSTANT_SIZE
    return CropCase.MOVING


def fixed_boxes(boxes: np.ndarray, frame_width: int, frame_height: int) -> np.ndarray:
    """One square over the union of the (5-frame averaged) boxes, for every frame.

    X-Dub's ``get_fix_bbox``. ``boxes`` ``(F, 4)`` float64 in, ``(F, 4)`` float64 out.
    """
    averaged = centred_mean(boxes, 5)
    lo = averaged[:, :2].min(axis=0)
    hi = averaged[:, 2:].max(axis=0)
    side = np.minimum(np.max(hi - lo), min(frame_width, frame_height)).astype(averaged.dtype)
    centre = (lo + hi) / 2
    x1, x2 = _shift_inside(centre[0] - side / 2, centre[0] + side / 2, side, frame_width)
    y1, y2 = _shift_inside(centre[1] - side / 2, centre[1] + side / 2, side, frame_height)
    box = np.array([x1, y1, x2, y2], dtype=np.float64)
    return np.repeat(box[None], len(boxes), axis=0)


def constant_size_boxes(
    boxes: np.ndarray,
    frame_width: int,
    frame_height: int,
    sg_window: int = 25,
    sg_order: int = 2,
    avg_window: int = 11,
) -> np.ndarray:
    """Fixed side (the largest box side), smoothed centre track; ``(F, 4)`` float64.

    X-Dub's ``get_size_fix_center_smooth_bbox``: centre windows 5, 15, SG(25, 2), 11, 7, 3.
    """
    averaged = centred_mean(boxes, 5)
    centres = np.stack(
        [(averaged[:, 0] + averaged[:, 2]) / 2, (averaged[:, 1] + averaged[:, 3]) / 2], axis=1
    )
    centres = centred_mean(centres, avg_window + 4)
    centres = savgol_edge_padded(centres, sg_window, sg_order)
    for window in (avg_window, avg_window - 4, avg_window - 8):
        centres = centred_mean(centres, window)
    sides = averaged[:, 2] - averaged[:, 0]
    side = float(min(sides.max(), frame_height, frame_width))
    lo = (centres - side / 2).astype(np.float64)
    hi = (centres + side / 2).astype(np.float64)
    x1, x2 = _shift_inside(lo[:, 0], hi[:, 0], side, frame_width)
    y1, y2 = _shift_inside(lo[:, 1], hi[:, 1], side, frame_height)
    return np.stack([x1, y1, x2, y2], axis=1)


def smooth_boxes(
    boxes: np.ndarray,
    frame_width: int,
    frame_height: int,
    sg_window: int = 25,
    sg_order: int = 2,
    avg_window: int = 11,
) -> np.ndarray:
    """Corner and side tracks smoothed separately, box rebuilt from (x1, y1) + side.

    X-Dub's ``get_smooth_bbox``: boxes 5, 11, SG(25, 2), 7, 3; side 11, SG(25, 2), 7; rebuilt
    boxes 11, 7, 3, then clipped to the frame. ``(F, 4)`` float64 in and out.
    """
    smoothed = centred_mean(centred_mean(boxes, 5), avg_window)
    smoothed = savgol_edge_padded(smoothed, sg_window, sg_order)
    smoothed = centred_mean(centred_mean(smoothed, avg_window - 4), avg_window - 8)
    sides = np.minimum(smoothed[:, 2] - smoothed[:, 0], smoothed[:, 3] - smoothed[:, 1])
    sides = savgol_edge_padded(centred_mean(sides, avg_window), sg_window, sg_order)
    sides = _float32_exact(centred_mean(sides, avg_window - 4))
    x1 = np.maximum(0.0, _float32_exact(smoothed[:, 0]))
    y1 = np.maximum(0.0, _float32_exact(smoothed[:, 1]))
    sides = np.minimum(np.minimum(sides, frame_height - y1), frame_width - x1)
    rebuilt = np.stack([x1, y1, x1 + sides, y1 + sides], axis=1).astype(np.float32)
    for window in (avg_window, avg_window - 4, avg_window - 8):
        rebuilt = centred_mean(rebuilt, window)
    limits = np.array([frame_width, frame_height], dtype=rebuilt.dtype)
    clipped = np.concatenate([np.maximum(rebuilt[:, :2], 0), np.minimum(rebuilt[:, 2:], limits)], 1)
    return clipped.astype(np.float64)


def _float32_exact(values: np.ndarray) -> np.ndarray:
    """float64 copy of ``values`` rounded through float32 (the reference's scalar reads)."""
    return values.astype(np.float32).astype(np.float64)


def shift_boxes_vertically(boxes: np.ndarray, frame_height: int, ratio: float) -> np.ndarray:
    """Move boxes down by ``ratio`` x their height, kept inside the frame; float64 ``(F, 4)``.

    X-Dub's ``apply_vertical_bbox_shift``; it ships with ratio 0 (``VERTICAL_BBOX_SHIFT_RATIO``).
    """
    shifted = np.asarray(boxes, dtype=np.float64).copy()
    shifted[:, [1, 3]] += ((shifted[:, 3] - shifted[:, 1]) * ratio)[:, None]
    overflow = np.where(shifted[:, 3] > frame_height, shifted[:, 3] - frame_height, 0.0)
    shifted[:, [1, 3]] -= overflow[:, None]
    underflow = np.where(shifted[:, 1] < 0, -shifted[:, 1], 0.0)
    shifted[:, [1, 3]] += underflow[:, None]
    return shifted


def finalize_bbox_for_crop(boxes: np.ndarray, frame_width: int, frame_height: int) -> np.ndarray:
    """Integer crop boxes: floor x1/y1, ceil x2/y2, clamped to the frame, at least 1 px.

    ``boxes`` ``(F, 4)`` (or ``(4,)``) float pixels; returns int64 of the same shape.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    if not np.all(np.isfinite(boxes)):
        raise MediaError(
            "face crop boxes contain NaN or infinite values; the landmarks were not finite",
            code="no_face",
            hint="check that a face is visible in every frame of the clip",
        )
    x1 = np.clip(np.floor(boxes[..., 0]), 0, frame_width - 1).astype(np.int64)
    y1 = np.clip(np.floor(boxes[..., 1]), 0, frame_height - 1).astype(np.int64)
    x2 = np.maximum(x1 + 1, np.minimum(frame_width, np.ceil(boxes[..., 2]))).astype(np.int64)
    y2 = np.maximum(y1 + 1, np.minimum(frame_height, np.ceil(boxes[..., 3]))).astype(np.int64)
    return np.stack([x1, y1, x2, y2], axis=-1)


def process_bbox(
    boxes: np.ndarray,
    frame_width: int,
    frame_height: int,
    *,
    force_fix: bool = False,
    vertical_shift_ratio: float = 0.0,
) -> tuple[np.ndarray, CropCase]:
    """Per-frame face boxes ``(F, 4)`` to the final int64 crop track and the case chosen.

    ``force_fix`` uses one fixed box for the whole clip (``CropCase.FORCED_FIX``).
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or len(boxes) == 0:
        raise MediaError(f"expected (F, 4) face boxes with F >= 1, got shape {boxes.shape}")
    case = CropCase.FORCED_FIX if force_fix else judge_case_flag(boxes)
    if case in (CropCase.FORCED_FIX, CropCase.STATIC):
        track = fixed_boxes(boxes, frame_width, frame_height)
    elif case is CropCase.CONSTANT_SIZE:
        track = constant_size_boxes(boxes, frame_width, frame_height)
    else:
        track = smooth_boxes(boxes, frame_width, frame_height)
    track = shift_boxes_vertically(track, frame_height, vertical_shift_ratio)
    return finalize_bbox_for_crop(track, frame_width, frame_height), case
