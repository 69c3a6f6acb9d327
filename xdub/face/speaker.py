"""Which person to dub when several are in the shot: track candidates by IoU, pick one track.

X-Dub keeps the highest-scoring person box of each frame on its own, so the crop can jump
between people. Here the per-frame candidates (detector boxes after the score filter and NMS)
are linked into tracks first, and one track is chosen for the whole clip: the largest person
(default), a person picked by a point or a box in one frame, or X-Dub's per-frame top score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from xdub.errors import MediaError

NO_CANDIDATE = -1
"""Index reported for frames where the chosen person has no candidate box."""


class SpeakerRule(str, Enum):
    LARGEST = "largest"
    """The track with the largest box area summed over the clip (long, close people win)."""
    HIGHEST_SCORE = "highest_score"
    """X-Dub's rule: each frame's top-scoring candidate on its own, no tracking."""
    PICKED = "picked"
    """The track of the candidate under ``point_xy`` (or best matching ``box_xyxy``)."""


@dataclass(frozen=True)
class SpeakerChoice:
    """How to choose the speaker. Pixel coordinates are in the original frame.

    ``frame_index``, ``point_xy`` / ``box_xyxy``: where a ``PICKED`` speaker was clicked.
    ``min_iou``: overlap needed to continue a track. ``max_gap_frames``: frames a track may go
    undetected and still be continued.
    """

    rule: SpeakerRule = SpeakerRule.LARGEST
    frame_index: int = 0
    point_xy: tuple[float, float] | None = None
    box_xyxy: tuple[float, float, float, float] | None = None
    min_iou: float = 0.3
    max_gap_frames: int = 12

    def __post_init__(self) -> None:
        is_picked = self.rule is SpeakerRule.PICKED
        num_picks = (self.point_xy is not None) + (self.box_xyxy is not None)
        if is_picked and num_picks != 1:
            raise ValueError("a picked speaker needs exactly one of point_xy or box_xyxy")
        if not is_picked and num_picks:
            raise ValueError(f"point_xy/box_xyxy only apply to the picked rule, not {self.rule}")
        if not 0 < self.min_iou <= 1 or self.max_gap_frames < 0 or self.frame_index < 0:
            raise ValueError(f"invalid speaker tracking settings: {self}")


def box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """``(N, M)`` intersection over union of ``(N, 4)`` and ``(M, 4)`` xyxy boxes."""
    top_left = np.maximum(boxes_a[:, None, :2], boxes_b[None, :, :2])
    bottom_right = np.minimum(boxes_a[:, None, 2:4], boxes_b[None, :, 2:4])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    union = _area(boxes_a)[:, None] + _area(boxes_b)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _area(boxes: np.ndarray) -> np.ndarray:
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def track_candidates(
    candidates: Sequence[np.ndarray], min_iou: float = 0.3, max_gap_frames: int = 12
) -> list[np.ndarray]:
    """Link per-frame boxes into tracks; returns one ``(N_t,)`` int64 array of track ids a frame.

    Each frame's boxes are matched to the last box of every track seen within
    ``max_gap_frames`` frames by a maximum-IoU assignment; pairs below ``min_iou`` and unmatched
    boxes start new tracks. Ids are 0, 1, ... in order of first appearance.
    """
    from scipy.optimize import linear_sum_assignment  # 0.8 s to import: not for the CLI's --help

    last_boxes: list[np.ndarray] = []
    last_frames: list[int] = []
    track_ids: list[np.ndarray] = []
    for frame_index, frame_candidates in enumerate(candidates):
        boxes = frame_candidates[:, :4]
        ids = np.full(len(boxes), NO_CANDIDATE, dtype=np.int64)
        active = [k for k, seen in enumerate(last_frames) if frame_index - seen <= max_gap_frames]
        if active and len(boxes):
            iou = box_iou(boxes, np.stack([last_boxes[k] for k in active]))
            for row, col in zip(*linear_sum_assignment(iou, maximize=True), strict=True):
                if iou[row, col] >= min_iou:
                    ids[row] = active[col]
        for row in np.flatnonzero(ids == NO_CANDIDATE):
            ids[row] = len(last_boxes)
            last_boxes.append(boxes[row])
            last_frames.append(frame_index)
        for row, track in enumerate(ids):
            last_boxes[track] = boxes[row]
            last_frames[track] = frame_index
        track_ids.append(ids)
    return track_ids


def choose_speaker(
    candidates: Sequence[np.ndarray], choice: SpeakerChoice | None = None
) -> np.ndarray:
    """Index of the speaker's box among each frame's candidates; ``(F,)`` int64, -1 if absent.

    ``candidates[t]``: ``(N_t, 5)`` float ``x1, y1, x2, y2, score`` in pixels (``N_t`` may be 0;
    the score is read only by ``HIGHEST_SCORE``).
    """
    choice = choice or SpeakerChoice()
    for frame_index, frame_candidates in enumerate(candidates):
        if frame_candidates.ndim != 2 or frame_candidates.shape[1] < 5:
            raise ValueError(
                f"frame {frame_index}: candidates must be (N, 5) x1, y1, x2, y2, score; "
                f"got {frame_candidates.shape}"
            )
    if choice.rule is SpeakerRule.HIGHEST_SCORE:
        return np.array(
            [np.argmax(c[:, 4]) if len(c) else NO_CANDIDATE for c in candidates], dtype=np.int64
        )
    track_ids = track_candidates(candidates, choice.min_iou, choice.max_gap_frames)
    if choice.rule is SpeakerRule.PICKED:
        chosen = _picked_track(candidates, track_ids, choice)
    else:
        chosen = _largest_track(candidates, track_ids)
    indices = [np.flatnonzero(ids == chosen) for ids in track_ids]
    return np.array([i[0] if len(i) else NO_CANDIDATE for i in indices], dtype=np.int64)


def _largest_track(candidates: Sequence[np.ndarray], track_ids: list[np.ndarray]) -> int:
    """Track id with the largest summed box area; -1 when there are no candidates at all."""
    if not any(len(ids) for ids in track_ids):
        return NO_CANDIDATE
    all_ids = np.concatenate(track_ids)
    areas = np.concatenate([_area(c[:, :4]) for c in candidates])
    return int(np.argmax(np.bincount(all_ids, weights=areas)))


def _picked_track(
    candidates: Sequence[np.ndarray], track_ids: list[np.ndarray], choice: SpeakerChoice
) -> int:
    """Track id of the candidate picked in ``choice.frame_index``; ``MediaError`` if none fits."""
    if choice.frame_index >= len(candidates):
        raise MediaError(
            f"speaker picked in frame {choice.frame_index}, but the clip has "
            f"{len(candidates)} frames"
        )
    boxes = candidates[choice.frame_index][:, :4]
    if choice.point_xy is not None:
        x, y = choice.point_xy
        inside = (boxes[:, 0] <= x) & (x <= boxes[:, 2]) & (boxes[:, 1] <= y) & (y <= boxes[:, 3])
        # the smallest box under the point: the person in front rather than the one behind
        fit = np.where(inside, -_area(boxes), -np.inf)
    else:
        picked = np.asarray(choice.box_xyxy, dtype=np.float64)[None]
        iou = box_iou(boxes, picked)[:, 0]
        fit = np.where(iou > 0, iou, -np.inf)
    if not len(boxes) or not np.isfinite(fit.max()):
        raise MediaError(
            f"no person found at the picked speaker position in frame {choice.frame_index}",
            code="no_face",
            hint="pick a point on the speaker in a frame where the speaker is visible",
        )
    return int(track_ids[choice.frame_index][np.argmax(fit)])
