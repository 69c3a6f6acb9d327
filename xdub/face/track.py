"""The crop track of a take: who the speaker is, and the smoothed square box around their face.

One pass over the model-rate (25 fps) frames: YOLOX finds the people, RTMW-x gives 133 points
for every candidate (usually one or two), and only small arrays are kept. After the pass the
speaker is chosen over the whole clip (``xdub.face.speaker``), and that person's landmarks go
through the reference's filter and box smoothing (``landmarks``, ``bbox``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import islice

import numpy as np

from xdub.errors import MediaError
from xdub.face.bbox import CropCase, face_boxes_from_landmarks, process_bbox
from xdub.face.detect import person_candidates
from xdub.face.landmarks import FACE, face_landmarks, pose_filter
from xdub.face.speaker import NO_CANDIDATE, SpeakerChoice, choose_speaker
from xdub.face.wholebody import RTMW_SCORE_SCALE, WholebodyBackend, to_openpose_134
from xdub.protocol.records import MissingFace

MIN_FACE_SIDE_PX = 48
"""Crop boxes smaller than this are refused: the 512 px crop would be mostly upscaling blur."""


MAX_FACELESS_RUN_S = 0.5
"""Shorter runs of frames without a face (a turn, a hand) are bridged by the box smoothing."""


@dataclass(frozen=True)
class FaceTrack:
    """The crop box of every model frame: ``boxes (N, 4)`` int64 ``x1, y1, x2, y2`` in upright
    frame pixels; ``face_scores (N,)`` the speaker's mean face-landmark score (0..1) per frame;
    ``has_face (N,)`` bool, False where the face was not found (frames left untouched);
    ``case``: the reference's smoothing strategy that was used."""

    boxes: np.ndarray
    face_scores: np.ndarray
    has_face: np.ndarray
    case: CropCase


@dataclass(frozen=True)
class FramePeople:
    """Candidates of one frame: ``rows (N, 5)`` box + score and ``dwpose (max(N, 1), 134, 3)``
    (x / width, y / height, score / 10); a frame without people has the whole-frame pose."""

    rows: np.ndarray
    dwpose: np.ndarray


class FaceTracker:
    """Runs the landmark networks over frames and turns the speaker's landmarks into boxes.

    ``min_face_score``: frames whose speaker face points score below it on average count as
    "no face" (0 disables the check, as for uncalibrated test weights).
    """

    def __init__(
        self,
        estimator: WholebodyBackend,
        *,
        speaker: SpeakerChoice | None = None,
        batch_size: int = 8,
        min_face_score: float = 0.3,
        missing_face: MissingFace = MissingFace.ERROR,
    ) -> None:
        self.estimator = estimator
        self.speaker = speaker or SpeakerChoice()
        self.batch_size = batch_size
        self.min_face_score = min_face_score
        self.missing_face = missing_face

    def track(
        self,
        frames_rgb: Iterable[np.ndarray],
        *,
        fps: float,
        on_frames: Callable[[int], None] | None = None,
    ) -> FaceTrack:
        """The crop track of ``frames_rgb`` ((H, W, 3) uint8 upright, all the same size, at the
        model's rate ``fps``, used for error messages). ``on_frames(n)`` reports progress."""
        people: list[FramePeople] = []
        frame_size: tuple[int, int] | None = None
        frames = iter(frames_rgb)
        while batch := [
            np.ascontiguousarray(f[..., ::-1]) for f in islice(frames, self.batch_size)
        ]:
            frame_size = frame_size or (batch[0].shape[1], batch[0].shape[0])
            people += self._people(batch)
            if on_frames is not None:
                on_frames(len(people))
        if frame_size is None:
            raise MediaError("the video has no frames to track", code="no_frames")
        return crop_track(
            people,
            frame_size,
            fps=fps,
            speaker=self.speaker,
            min_face_score=self.min_face_score,
            missing_face=self.missing_face,
        )

    def _people(self, batch_bgr: list[np.ndarray]) -> list[FramePeople]:
        detections = self.estimator.detect(batch_bgr, self.batch_size)
        rows = [person_candidates(d) for d in detections]
        pose_frames, pose_boxes = [], []
        for frame, frame_rows in zip(batch_bgr, rows, strict=True):
            boxes = [row[:4] for row in frame_rows] or [None]
            pose_frames += [frame] * len(boxes)
            pose_boxes += boxes
        poses = self.estimator.estimate(pose_frames, pose_boxes, self.batch_size)
        info_133 = np.concatenate(
            [poses.keypoints, poses.scores[..., None], poses.visible[..., None]], axis=-1
        )
        info_134 = to_openpose_134(info_133)
        out, at = [], 0
        for frame, frame_rows in zip(batch_bgr, rows, strict=True):
            count = max(1, len(frame_rows))
            size = np.array([frame.shape[1], frame.shape[0]], dtype=np.float32)
            xy = info_134[at : at + count, :, :2] / size
            score = info_134[at : at + count, :, 2:3] / np.float32(RTMW_SCORE_SCALE)
            out.append(FramePeople(frame_rows, np.concatenate([xy, score], -1).astype(np.float32)))
            at += count
        return out


def crop_track(
    people: Sequence[FramePeople],
    frame_size: tuple[int, int],
    *,
    fps: float,
    speaker: SpeakerChoice | None = None,
    min_face_score: float = 0.3,
    missing_face: MissingFace = MissingFace.ERROR,
) -> FaceTrack:
    """The speaker's crop track from every frame's candidates (the part after the networks).

    ``frame_size`` is (width, height) in px; ``fps`` the frames' rate, for error messages.
    ``min_face_score`` 0 disables the face check (uncalibrated test weights).
    """
    chosen = choose_speaker([p.rows for p in people], speaker or SpeakerChoice())
    dwpose = _speaker_dwpose(people, chosen)
    width, height = frame_size
    face_scores = dwpose[:, FACE, 2].mean(axis=1)
    has_face = face_scores >= min_face_score
    _check_faces(has_face, fps, missing_face)
    # Faceless frames hold the nearest seen face, so the box stays put across the gap.
    known = np.flatnonzero(has_face).tolist()
    dwpose = dwpose[[i if has_face[i] else _nearest(known, i) for i in range(len(dwpose))]]
    filtered = pose_filter(dwpose[:, None])
    raw_boxes = face_boxes_from_landmarks(face_landmarks(filtered), width, height)
    boxes, case = process_bbox(raw_boxes, width, height)
    _check_box_sizes(boxes, fps)
    return FaceTrack(boxes=boxes, face_scores=face_scores, has_face=has_face, case=case)


def _check_faces(has_face: np.ndarray, fps: float, missing_face: MissingFace) -> None:
    """Refuse faceless stretches longer than ``MAX_FACELESS_RUN_S`` (or a clip with no face)."""
    start, stop = _longest_run(~has_face)
    is_too_long = (stop - start) / fps > MAX_FACELESS_RUN_S
    if not has_face.any() or (is_too_long and missing_face is MissingFace.ERROR):
        raise MediaError(
            f"no face found from {_clock(start / fps)} to {_clock(stop / fps)}",
            code="no_face",
            hint="trim the clip to where the speaker's face is visible, or let faceless "
            "frames pass through untouched (missing_face = pass_through)",
        )


def _speaker_dwpose(people: Sequence[FramePeople], chosen: np.ndarray) -> np.ndarray:
    """``(F, 134, 3)``: the chosen candidate's points; frames without people use the whole-frame
    pose (as the reference); frames where only others are seen hold the nearest known pose."""
    poses: list[np.ndarray | None] = []
    for frame, index in zip(people, chosen, strict=True):
        if len(frame.rows) == 0:
            poses.append(frame.dwpose[0])
        else:
            poses.append(None if index == NO_CANDIDATE else frame.dwpose[index])
    known = [i for i, pose in enumerate(poses) if pose is not None]
    if not known:
        raise MediaError("the chosen speaker is never visible", code="no_face")
    filled = [
        poses[i] if poses[i] is not None else poses[_nearest(known, i)] for i in range(len(poses))
    ]
    return np.stack([p for p in filled if p is not None])


def _nearest(known: list[int], index: int) -> int:
    return min(known, key=lambda k: abs(k - index))


def _check_box_sizes(boxes: np.ndarray, fps: float) -> None:
    sides = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    small = sides < MIN_FACE_SIDE_PX
    if small.any():
        start, stop = _longest_run(small)
        raise MediaError(
            f"the face is too small ({int(sides.min())} px, at least {MIN_FACE_SIDE_PX} px needed) "
            f"from {_clock(start / fps)} to {_clock(stop / fps)}",
            code="face_too_small",
            hint="use a closer shot or a higher-resolution source",
        )


def _longest_run(flags: np.ndarray) -> tuple[int, int]:
    """``(start, stop)`` frame indices of the longest run of True values."""
    best, start = (0, 0), None
    for i, flag in enumerate([*flags.tolist(), False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            best = max(best, (start, i), key=lambda run: run[1] - run[0])
            start = None
    return best


def _clock(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes):02d}:{rest:05.2f}"
