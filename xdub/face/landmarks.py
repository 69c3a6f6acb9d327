"""The 134-point whole-body layout, the 79 face points X-Dub uses, and its temporal pose filter.

Layout (RTMW's 133 COCO-WholeBody points after the neck insert and the OpenPose reorder):
0-17 body in OpenPose order (1 = neck, 14/15 = right/left eye), 18-23 feet, 24-91 the 68 iBUG
face points (``face68[j]`` is row ``24 + j``), 92-133 hands; rows 18-133 are COCO-WholeBody rows
17-132. Coordinates are normalised by the frame width/height; the third column is score / 10.
"""

from __future__ import annotations

import numpy as np

NUM_KEYPOINTS = 134
NECK_INDEX = 1
"""Mean of the shoulders; inserted at row 17, then moved here by the OpenPose reorder."""
BODY = slice(0, 18)
FEET = slice(18, 24)
FACE68_OFFSET = 24
FACE = slice(FACE68_OFFSET, FACE68_OFFSET + 68)
HANDS = slice(92, NUM_KEYPOINTS)
EYE_INDICES = (14, 15)
"""OpenPose right/left eye; the pose filter follows them without lag."""


def face68(j: int) -> int:
    """Row of iBUG-68 face point ``j`` in the 134-point layout."""
    return FACE68_OFFSET + j


FACE_INDEX: tuple[int, ...] = (
    # inner eye corners (#39, #42), jaw points #3 and #13: the forehead point is built from these
    *(face68(j) for j in (39, 42, 3, 13)),
    *(face68(j) for j in (1, 2, 0, 16, 15, 14)),
    *range(FACE.start, FACE.stop),
    face68(8),  # chin
)
"""The 79 rows X-Dub takes for the crop box, in its order."""

UNSEEN_SCORE = 0.3
"""Below this score/10 a point is followed slowly (gain 0.1), whatever its motion."""


def face_landmarks(dwpose: np.ndarray, person: int = 0) -> np.ndarray:
    """``(F, 79, 2)`` normalised x/y of ``FACE_INDEX`` for one person of ``(F, P, 134, 3)``."""
    return dwpose[:, person, list(FACE_INDEX), :2]


def pose_filter(dwpose: np.ndarray, filter_strength: float = 0.1) -> np.ndarray:
    """Adaptive per-coordinate EMA over frames, as X-Dub's ``pose_filter``.

    ``dwpose``: ``(F, P, 134, 3)`` (x, y normalised; score/10), float32 in the pipeline; the
    result has the same shape and dtype (a new array; the input is left as it is).
    ``p_t = p_{t-1} + k (raw_t - p_{t-1})`` with ``k = s + (1 - s) / (exp(3 - 600 |delta|) + 1)``,
    ``k = 0.1`` where the score is below ``UNSEEN_SCORE`` and ``k = 1`` for the eyes. Scores
    pass through unfiltered.
    """
    if dwpose.ndim != 4 or dwpose.shape[-1] != 3:
        raise ValueError(f"pose_filter expects (F, P, K, 3) keypoints, got shape {dwpose.shape}")
    filtered = dwpose.copy()
    if len(dwpose) == 0:
        return filtered
    last_xy = dwpose[0, :, :, :2]
    for frame_index in range(len(dwpose)):
        xy = dwpose[frame_index, :, :, :2]
        scores = dwpose[frame_index, :, :, 2]
        delta = xy - last_xy
        gain = filter_strength + (1 - filter_strength) / (np.exp(3 - np.abs(delta) * 600) + 1)
        gain[scores < UNSEEN_SCORE] = 0.1
        gain[:, list(EYE_INDICES)] = 1
        last_xy = last_xy + delta * gain
        filtered[frame_index, :, :, :2] = last_xy
    return filtered
