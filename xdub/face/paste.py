"""Put the generated face back: feather the crop's border into the source crop, then paste it.

X-Dub's ``blend_crop_video_with_ref`` and ``paste_video_back`` (``utils.py``), one frame (or a
small batch) at a time. Images are uint8 ``(..., H, W, 3)`` RGB; blends run in float32 and are
truncated to uint8, as the reference does.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import cv2
import numpy as np

from xdub.errors import MediaError
from xdub.face.crop import check_box

BLEND_BORDER_PX = 16
"""Outer crop band given back to the source crop: one latent (16 px) per replaced border."""
BLEND_BLUR_PX = 33
PASTE_EDGE_MARGIN_PX = 8
PASTE_BLUR_PX = 17


class BorderFlags(NamedTuple):
    """Which sides of a box touch the frame border (those are pasted without feathering)."""

    up: bool
    below: bool
    left: bool
    right: bool


def normalize_blend_edge(edge: int, height: int, width: int) -> int:
    """An odd blur size of at least 1 and below half the smaller image side."""
    max_edge = max(1, min(height, width) // 2 - 1)
    edge = max(1, min(edge, max_edge))
    if edge % 2 == 0:
        edge = edge + 1 if edge < max_edge else edge - 1
    return max(1, edge)


@lru_cache(maxsize=64)
def blurred_border_mask(
    height: int, width: int, edges: tuple[int, int, int, int], blur_px: int
) -> np.ndarray:
    """``(H, W)`` float32 mask: 1 on a border band, 0 inside, box-blurred twice.

    ``edges``: band widths (up, down, left, right) in pixels; ``blur_px`` is normalised by
    ``normalize_blend_edge``. The array is cached and read-only.
    """
    up, down, left, right = edges
    kernel = normalize_blend_edge(blur_px, height, width)
    mask: np.ndarray = np.ones((height, width), dtype=np.float32)
    mask[up : height - down, left : width - right] = 0
    mask = cv2.blur(cv2.blur(mask, (kernel, kernel)), (kernel, kernel))
    mask.flags.writeable = False
    return mask


def blend(generated: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``generated * (1 - mask) + reference * mask`` in float32, clipped, truncated to uint8."""
    weight = mask[..., None]
    mixed = generated.astype(np.float32) * (1 - weight) + reference.astype(np.float32) * weight
    return np.clip(mixed, 0, 255).astype(np.uint8)


def blend_border(
    generated: np.ndarray,
    reference: np.ndarray,
    border_px: int = BLEND_BORDER_PX,
    blur_px: int = BLEND_BLUR_PX,
) -> np.ndarray:
    """Fade the outer band of generated crops back to the source crops.

    ``generated``, ``reference``: uint8 ``(H, W, 3)`` or ``(T, H, W, 3)`` of the same shape.
    Returns uint8 of that shape.
    """
    if generated.shape != reference.shape:
        raise MediaError(
            f"generated crop {generated.shape} and source crop {reference.shape} differ in shape"
        )
    height, width = generated.shape[-3:-1]
    edges = (border_px, border_px, border_px, border_px)
    return blend(generated, reference, blurred_border_mask(height, width, edges, blur_px))


def border_flags(box: np.ndarray, frame_height: int, frame_width: int) -> BorderFlags:
    """Sides of integer ``box`` (x1, y1, x2, y2) that lie on the frame border."""
    x1, y1, x2, y2 = (int(v) for v in box)
    return BorderFlags(y1 == 0, y2 >= frame_height, x1 == 0, x2 >= frame_width)


def paste_edge_mask(height: int, width: int, flags: BorderFlags) -> np.ndarray:
    """``(H, W)`` float32 mask giving the bbox's inner edge back to the original frame.

    About ``PASTE_EDGE_MARGIN_PX`` is feathered inside each side that is not on the frame border.
    """
    margin = max(0, min(PASTE_EDGE_MARGIN_PX, min(height, width) // 2 - 1))
    edges = (
        0 if flags.up else margin,
        0 if flags.below else margin,
        0 if flags.left else margin,
        0 if flags.right else margin,
    )
    return blurred_border_mask(height, width, edges, PASTE_BLUR_PX)


def paste_face(frame: np.ndarray, face: np.ndarray, box: np.ndarray) -> np.ndarray:
    """A copy of ``frame`` ``(H, W, 3)`` uint8 with ``face`` (any square crop) pasted into ``box``.

    The face is resized to the box with cv2 ``INTER_LINEAR`` and feathered into the original
    pixels along the box edges that are inside the frame.
    """
    check_box(box, frame)
    if face.dtype != np.uint8 or face.ndim != 3 or face.shape[2] != 3:
        raise MediaError(f"generated face must be (h, w, 3) uint8, got {face.shape} {face.dtype}")
    x1, y1, x2, y2 = (int(v) for v in box)
    height, width = y2 - y1, x2 - x1
    resized = cv2.resize(face, (width, height), interpolation=cv2.INTER_LINEAR)
    flags = border_flags(box, *frame.shape[:2])
    pasted = frame.copy()
    region = frame[y1:y2, x1:x2]
    pasted[y1:y2, x1:x2] = blend(resized, region, paste_edge_mask(height, width, flags))
    return pasted
