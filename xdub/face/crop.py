"""Cut the face crop out of one frame: crop, then PIL's antialiased bilinear resize.

X-Dub's ``crop_and_resize_frames``, one frame at a time so that a clip is never held whole.
PIL (not cv2) matters here: its bilinear filter antialiases when it downscales.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from xdub.errors import MediaError

CROP_SIZE = 512
"""Side of the model's face crop in pixels."""


def crop_face(frame: np.ndarray, box: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """``(size, size, 3)`` uint8 crop of ``frame`` ``(H, W, 3)`` uint8 RGB inside ``box``.

    ``box``: integer ``x1, y1, x2, y2`` pixels, inside the frame and non-empty (as
    ``finalize_bbox_for_crop`` makes it).
    """
    check_box(box, frame)
    x1, y1, x2, y2 = (int(v) for v in box)
    region = Image.fromarray(np.ascontiguousarray(frame[y1:y2, x1:x2]))  # = PIL's crop
    return np.array(region.resize((size, size), Image.Resampling.BILINEAR))


def check_box(box: np.ndarray, frame: np.ndarray) -> None:
    """Raise ``MediaError`` unless ``frame`` is ``(H, W, 3)`` uint8 and ``box`` a crop inside it."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise MediaError(
            f"face crop needs an (H, W, 3) uint8 RGB frame, got {frame.shape} {frame.dtype}"
        )
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = (int(v) for v in box)
    if not (0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height):
        raise MediaError(
            f"face box {[x1, y1, x2, y2]} is empty or outside the {width}x{height} frame",
            hint="boxes must come from finalize_bbox_for_crop for this frame size",
        )
