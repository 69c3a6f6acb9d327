"""X-Dub's ``Wholebody`` wrapper and ``extract_dwpose``: detect → top-down pose → 134 points.

Per frame: YOLOX picks one person box (or none: the whole frame is used), RTMW gives 133
COCO-WholeBody points; a neck point (mean of the shoulders) is inserted at row 17 and the body
rows are reordered to OpenPose order, giving the 134-point layout of ``xdub.face.landmarks``.

``WholebodyBackend`` holds that per-frame assembly; a backend supplies the two networks' steps
(``detect``, ``estimate``). ``WholebodyEstimator`` is the built-in plain-PyTorch backend;
``xdub.face.openmmlab`` runs the same steps through mmdet/mmpose.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
import torch
from torch import nn

from xdub.face.detect import Detections, detect_persons, person_box
from xdub.face.nets.configs import RtmwConfig, YoloxConfig
from xdub.face.nets.rtmw import Rtmw
from xdub.face.nets.yolox import Yolox
from xdub.face.pose import PoseKeypoints, estimate_wholebody

NECK_ROW = 17
MMPOSE_ROWS = (17, 6, 8, 10, 7, 9, 12, 14, 16, 13, 15, 2, 1, 4, 3)
"""Source rows (after the neck insert) of OpenPose rows ``OPENPOSE_ROWS``."""
OPENPOSE_ROWS = (1, 2, 3, 4, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16, 17)
RTMW_SCORE_SCALE = 10.0
"""RTMW scores run ~0–10: the 0/1 neck score is scaled to match, and ``extract_dwpose`` divides."""


@dataclass(frozen=True)
class WholebodyFrame:
    """One frame, as ``Wholebody.__call__`` returns it (P = 1 person).

    ``keypoints_info_133 (P, 133, 4)``: x, y (image pixels), score, visibility in mmpose order;
    ``keypoints (P, 134, 2)``, ``scores``/``visible (P, 134)`` in OpenPose order with the neck;
    ``det_box (1, 4)`` or ``(0, 4)``: the chosen person box (none: the whole frame was used).
    All float32.
    """

    keypoints_info_133: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray
    visible: np.ndarray
    det_box: np.ndarray


def to_openpose_134(info_133: np.ndarray) -> np.ndarray:
    """``(P, 133, 4)`` → ``(P, 134, 4)``: neck inserted at row 17, body rows in OpenPose order.

    The neck is the shoulders' mean; its score/visibility are 1 where both shoulders exceed 0.5
    (0 otherwise), the score then scaled by ``RTMW_SCORE_SCALE``.
    """
    shoulders = info_133[:, [5, 6]]
    neck = shoulders.mean(axis=1)
    neck[:, 2:4] = np.logical_and(shoulders[:, 0, 2:4] > 0.5, shoulders[:, 1, 2:4] > 0.5)
    neck[:, 2] *= RTMW_SCORE_SCALE
    info_134 = np.insert(info_133, NECK_ROW, neck, axis=1)
    info_134[:, list(OPENPOSE_ROWS)] = info_134[:, list(MMPOSE_ROWS)]
    return info_134


def normalized_dwpose(
    frames: Sequence[WholebodyFrame], sizes: Sequence[tuple[int, int]]
) -> np.ndarray:
    """``extract_dwpose``: ``(F, 1, 134, 3)`` float32 of x / width, y / height, score / 10.

    ``sizes`` are the frames' ``(width, height)``; person 0 only, visibility dropped.
    """
    rows = []
    for frame, (width, height) in zip(frames, sizes, strict=True):
        xy = frame.keypoints[:1] / np.array([width, height], dtype=np.float32)
        score = frame.scores[:1] / np.float32(RTMW_SCORE_SCALE)
        rows.append(np.concatenate([xy, score[..., None]], axis=-1))
    return np.stack(rows).astype(np.float32)


def _one_box(box: np.ndarray) -> np.ndarray:
    """A ``box_ext`` entry as ``(1, 4)`` or ``(0, 4)`` float32; X-Dub never passes more boxes."""
    boxes = np.asarray(box, dtype=np.float32).reshape(-1, 4)
    if len(boxes) > 1:
        raise ValueError(f"one person box per frame is supported, got {len(boxes)}")
    return boxes


def _info_133(poses: PoseKeypoints) -> np.ndarray:
    """``(F, 133, 4)`` float32: x, y, score, visibility per frame, as the wrapper concatenates."""
    return np.concatenate([poses.keypoints, poses.scores[..., None], poses.visible[..., None]], -1)


class WholebodyBackend(ABC):
    """``Wholebody.__call__`` over frames in batches, given a backend's detector and pose steps."""

    @property
    @abstractmethod
    def networks(self) -> tuple[nn.Module, ...]:
        """The detector and pose modules (``.to(device)`` moves the backend)."""

    @abstractmethod
    def detect(self, frames_bgr: Sequence[np.ndarray], batch_size: int = 8) -> list[Detections]:
        """Every detection (all classes, descending score) of each ``(H, W, 3)`` uint8 BGR frame."""

    @abstractmethod
    def estimate(
        self,
        frames_bgr: Sequence[np.ndarray],
        boxes: Sequence[np.ndarray | None],
        batch_size: int = 8,
    ) -> PoseKeypoints:
        """133 points per frame for its ``(4,)`` xyxy float32 box (None: the whole frame)."""

    def stream(
        self,
        frames_bgr: Iterable[np.ndarray],
        batch_size: int = 8,
        boxes: Iterable[np.ndarray] | None = None,
    ) -> Iterator[WholebodyFrame]:
        """Results for ``(H, W, 3)`` uint8 BGR frames, in order, holding one batch at a time.

        ``boxes`` is X-Dub's ``box_ext``: per frame a ``(1, 4)`` xyxy box (or ``(0, 4)``: whole
        frame) used instead of the detector.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        frames_iter = iter(frames_bgr)
        boxes_iter = None if boxes is None else iter(boxes)
        while batch := list(islice(frames_iter, batch_size)):
            if boxes_iter is None:
                chosen = [person_box(d) for d in self.detect(batch, batch_size)]
            else:
                chosen = [_one_box(box) for box in islice(boxes_iter, len(batch))]
                if len(chosen) != len(batch):
                    raise ValueError("fewer boxes than frames")
            poses = self.estimate(
                batch, [box[0] if len(box) else None for box in chosen], batch_size
            )
            for info_133, box in zip(_info_133(poses), chosen, strict=True):
                info_134 = to_openpose_134(info_133[None])
                yield WholebodyFrame(
                    info_133[None], info_134[..., :2], info_134[..., 2], info_134[..., 3], box
                )

    def __call__(
        self,
        frames_bgr: Sequence[np.ndarray],
        batch_size: int = 8,
        boxes: Sequence[np.ndarray] | None = None,
    ) -> list[WholebodyFrame]:
        return list(self.stream(frames_bgr, batch_size, boxes))

    def extract_dwpose(self, frames_bgr: Sequence[np.ndarray], batch_size: int = 8) -> np.ndarray:
        """X-Dub's ``extract_dwpose``: ``(F, 1, 134, 3)`` normalised x, y and score / 10."""
        results = self(frames_bgr, batch_size)
        return normalized_dwpose(results, [(f.shape[1], f.shape[0]) for f in frames_bgr])


class WholebodyEstimator(WholebodyBackend):
    """The built-in backend: plain-PyTorch YOLOX + RTMW on one device, batched."""

    def __init__(self, detector: Yolox, pose: Rtmw) -> None:
        self.detector = detector.eval()
        self.pose = pose.eval()

    @classmethod
    def from_checkpoints(
        cls,
        detector_path: Path,
        pose_path: Path,
        *,
        device: torch.device | str = "cpu",
        detector_config: YoloxConfig | None = None,
        pose_config: RtmwConfig | None = None,
    ) -> WholebodyEstimator:
        """Load both OpenMMLab checkpoints strictly (YOLOX-L / RTMW-x unless configs are given)."""
        detector = Yolox.from_checkpoint(detector_path, detector_config).to(device)
        pose = Rtmw.from_checkpoint(pose_path, pose_config).to(device)
        return cls(detector, pose)

    @property
    def networks(self) -> tuple[nn.Module, ...]:
        return (self.detector, self.pose)

    def detect(self, frames_bgr: Sequence[np.ndarray], batch_size: int = 8) -> list[Detections]:
        return detect_persons(self.detector, frames_bgr, batch_size)

    def estimate(
        self,
        frames_bgr: Sequence[np.ndarray],
        boxes: Sequence[np.ndarray | None],
        batch_size: int = 8,
    ) -> PoseKeypoints:
        return estimate_wholebody(self.pose, frames_bgr, boxes, batch_size)
