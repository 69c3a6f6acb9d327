"""Where a take's mouth is and how open it is, per frame: from face landmarks.

Two landmark sources, both giving iBUG-68 face points per frame:

- ``landmark_track``: the project's whole-body network (RTMW, 133 COCO-WholeBody points, the
  68 face points among them) run on the take's frames. Meaningful only with the released
  weights; on tiny random test weights its points are noise, and the report says so.
- ``truth_track``: the synthetic media kit's ground truth (``xdub media sample --truth``), the
  exact points of the drawn face. It measures a synthetic clip whose frames are the truth's.

``mouth_opening`` turns points into the inner-lip gap in eye distances; ``mouth_boxes`` gives
the region (lips down to the chin) that the preservation metrics leave out.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from xdub.errors import MediaError
from xdub.face.detect import person_candidates
from xdub.face.wholebody import WholebodyBackend
from xdub.media.synthetic_face import FaceGeometry

COCO_FACE_FIRST_ROW = 23
"""Row of iBUG point 0 in the 133-point COCO-WholeBody order (17 body, 6 feet, then 68 face)."""
INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))
"""Upper / lower inner-lip points facing each other (iBUG-68)."""
OUTER_EYE_CORNERS = (36, 45)
MOUTH_POINTS = slice(48, 68)
CHIN_POINT = 8
MOUTH_BOX_MARGIN = 0.25
"""The mouth region grows by this fraction of the lips' width on every side."""
CROP_MOUTH_FRACTIONS = (0.22, 0.45, 0.78, 1.0)
"""Mouth region inside X-Dub's square crop box (x1, y1, x2, y2 as fractions of its side):
the lower middle, from below the nose to the box's bottom (the chin moves with the jaw)."""


@dataclass(frozen=True)
class MouthTrack:
    """Per frame: ``opening (F,)`` inner-lip gap in eye distances, ``boxes (F, 4)`` float
    x1, y1, x2, y2 of the mouth region and ``face_boxes (F, 4)`` of the 68 face points, in
    upright frame pixels; ``source`` names where the points came from (``"truth"``,
    ``"landmarks"``, ``"landmarks (test weights)"``)."""

    opening: np.ndarray
    boxes: np.ndarray
    face_boxes: np.ndarray
    source: str

    @property
    def is_reliable(self) -> bool:
        """False for landmarks of test weights (noise)."""
        return "test weights" not in self.source

    @classmethod
    def of(cls, face68: np.ndarray, source: str) -> MouthTrack:
        """The track of ``(F, 68, 2)`` face points in pixels."""
        points = np.asarray(face68, dtype=np.float64)
        faces = np.concatenate([points.min(axis=1), points.max(axis=1)], axis=1)
        return cls(mouth_opening(points), mouth_boxes(points), faces, source)


def mouth_opening(face68: np.ndarray) -> np.ndarray:
    """Inner-lip gap over the outer-eye-corner distance: ``(F, 68, 2)`` pixels -> ``(F,)``."""
    gaps = np.stack(
        [np.linalg.norm(face68[:, a] - face68[:, b], axis=-1) for a, b in INNER_LIP_PAIRS]
    ).mean(axis=0)
    eyes = np.linalg.norm(
        face68[:, OUTER_EYE_CORNERS[0]] - face68[:, OUTER_EYE_CORNERS[1]], axis=-1
    )
    return np.asarray(gaps / np.maximum(eyes, 1e-6), dtype=np.float64)


def mouth_boxes(face68: np.ndarray) -> np.ndarray:
    """The lips and the chin, grown by ``MOUTH_BOX_MARGIN``: ``(F, 68, 2)`` -> ``(F, 4)``."""
    points = np.concatenate([face68[:, MOUTH_POINTS], face68[:, CHIN_POINT : CHIN_POINT + 1]], 1)
    lo, hi = points.min(axis=1), points.max(axis=1)
    margin = MOUTH_BOX_MARGIN * (hi[:, :1] - lo[:, :1])
    return np.concatenate([lo - margin, hi + margin], axis=1).astype(np.float64)


def crop_mouth_boxes(crop_boxes: np.ndarray) -> np.ndarray:
    """The mouth region of X-Dub's crop boxes: ``(F, 4)`` xyxy -> ``(F, 4)`` xyxy float."""
    boxes = np.asarray(crop_boxes, dtype=np.float64)
    side = boxes[:, 2:] - boxes[:, :2]
    fx1, fy1, fx2, fy2 = CROP_MOUTH_FRACTIONS
    start = boxes[:, :2]
    return np.concatenate([start + side * (fx1, fy1), start + side * (fx2, fy2)], axis=1)


def truth_faces(path: Path) -> list[FaceGeometry]:
    """The speaking face of every frame of a ``--truth`` JSON file."""
    try:
        frames = json.loads(Path(path).read_text())["frames"]
        return [_face(frame["faces"][0]) for frame in frames]
    except (OSError, ValueError, KeyError, IndexError, TypeError) as error:
        raise MediaError(
            f"cannot read the synthetic truth {path}: {error!r}",
            hint="write it with `xdub media sample OUT.mp4 --truth OUT.json`",
        ) from error


def _face(entry: dict[str, Any]) -> FaceGeometry:
    centre = entry["center_xy"]
    return FaceGeometry(
        center_xy=(float(centre[0]), float(centre[1])),
        half_height_px=float(entry["half_height_px"]),
        tilt_deg=float(entry["tilt_deg"]),
        mouth_open=float(entry["mouth_open"]),
    )


def truth_track(path: Path) -> MouthTrack:
    """The mouth of a synthetic clip from its ground truth (exact drawn landmarks)."""
    return MouthTrack.of(np.stack([face.landmarks68() for face in truth_faces(path)]), "truth")


def network_face68(
    estimator: WholebodyBackend,
    frames_rgb: Iterable[np.ndarray],
    crop_boxes: Sequence[np.ndarray] | None = None,
    batch_size: int = 8,
) -> np.ndarray:
    """iBUG-68 points of the speaker in every frame from the whole-body network: ``(F, 68, 2)``.

    ``frames_rgb``: ``(H, W, 3)`` uint8 upright frames. The speaker is the person candidate
    whose box centre is nearest the frame's crop box centre (``crop_boxes``: one ``(4,)`` per
    frame, read once the frame has been drawn from ``frames_rgb``), or the
    highest-scoring one; a frame without a person uses the whole frame, as the face track does.
    """
    points: list[np.ndarray] = []
    frames = iter(frames_rgb)
    while batch := [np.ascontiguousarray(f[..., ::-1]) for f in islice(frames, batch_size)]:
        detections = estimator.detect(batch, batch_size)
        boxes: list[np.ndarray | None] = []
        for offset, found in enumerate(detections):
            rows = person_candidates(found)
            target = None if crop_boxes is None else crop_boxes[len(points) + offset]
            boxes.append(_speaker_box(rows, target))
        poses = estimator.estimate(batch, boxes, batch_size)
        face = poses.keypoints[:, COCO_FACE_FIRST_ROW : COCO_FACE_FIRST_ROW + 68]
        points += list(face.astype(np.float64))
    if not points:
        raise MediaError("the take has no frames", code="bad_media")
    return np.stack(points)


def _speaker_box(rows: np.ndarray, crop_box: np.ndarray | None) -> np.ndarray | None:
    if len(rows) == 0:
        return None
    if crop_box is None:
        return rows[int(np.argmax(rows[:, 4])), :4]
    centres = (rows[:, :2] + rows[:, 2:4]) / 2
    target = (np.asarray(crop_box[:2]) + np.asarray(crop_box[2:])) / 2
    return rows[int(np.argmin(np.linalg.norm(centres - target, axis=1))), :4]


def landmark_track(
    estimator: WholebodyBackend,
    frames_rgb: Iterable[np.ndarray],
    *,
    crop_boxes: Sequence[np.ndarray] | None = None,
    is_test_weights: bool = False,
) -> MouthTrack:
    """The mouth of a take measured by the whole-body network (see ``network_face68``)."""
    source = "landmarks (test weights)" if is_test_weights else "landmarks"
    return MouthTrack.of(network_face68(estimator, frames_rgb, crop_boxes), source)
