"""The crop track on generated faces: smooth boxes, the larger speaker kept, faceless stretches.

The landmark networks are tested against OpenMMLab goldens elsewhere; these tests drive the
stage after them (``crop_track``: speaker choice, filter, box smoothing) with the synthetic
kit's ground-truth face points, as a trained network would report them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from xdub.errors import MediaError
from xdub.face.landmarks import FACE, NUM_KEYPOINTS
from xdub.face.speaker import SpeakerChoice, SpeakerRule
from xdub.face.track import FramePeople, crop_track
from xdub.media.synthetic_face import FaceGeometry, FaceMotion
from xdub.protocol.records import MissingFace

WIDTH, HEIGHT, FPS = 640, 360, 25.0
SEEN_SCORE = 0.9
"""RTMW score / 10 of a clearly visible face point."""


LANDMARK_JITTER_PX = 2.0
"""Frame-to-frame noise of a landmark network's points on a still face (a few pixels)."""


def dwpose_of(face: FaceGeometry | None, rng: np.random.Generator | None = None) -> np.ndarray:
    """(134, 3) normalised points with only the face filled in (None: nothing seen)."""
    points = np.zeros((NUM_KEYPOINTS, 3), dtype=np.float32)
    if face is not None:
        xy = face.landmarks68()
        if rng is not None:
            xy = xy + rng.normal(0.0, LANDMARK_JITTER_PX, xy.shape).astype(np.float32)
        points[FACE, :2] = xy / np.array([WIDTH, HEIGHT], dtype=np.float32)
        points[FACE, 2] = SEEN_SCORE
    return points


def person_row(face: FaceGeometry, score: float = 0.9) -> np.ndarray:
    """A detector box around the head and shoulders."""
    x1, y1, x2, y2 = face.box_xyxy
    return np.array([x1 - 20, y1 - 10, x2 + 20, y2 + 60, score], dtype=np.float32)


def frames_of(*tracks: list[FaceGeometry | None], seed: int = 0) -> list[FramePeople]:
    rng = np.random.default_rng(seed)
    people = []
    for faces in zip(*tracks, strict=True):
        seen = [face for face in faces if face is not None]
        if not seen:
            people.append(FramePeople(np.zeros((0, 5), np.float32), dwpose_of(None)[None]))
            continue
        rows = np.stack([person_row(face) for face in seen])
        people.append(FramePeople(rows, np.stack([dwpose_of(face, rng) for face in seen])))
    return people


def box_centers(boxes: np.ndarray) -> np.ndarray:
    return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)


def test_a_moving_face_gives_a_smooth_track_that_holds_the_face() -> None:
    motion = FaceMotion.seeded((160, 40, 480, 330), mean_half_height_px=70, seed=4)
    faces = [motion.at(i / FPS, 0.3) for i in range(150)]
    people = frames_of(faces)
    track = crop_track(people, (WIDTH, HEIGHT), fps=FPS)
    centers = box_centers(track.boxes.astype(np.float64))
    # A box taken frame by frame from the jittery points shakes; the track's does not.
    points = np.array([p.dwpose[0, FACE, :2] * [WIDTH, HEIGHT] for p in people])
    naive = (points.min(axis=1) + points.max(axis=1)) / 2
    jerk = np.abs(np.diff(centers, 2, axis=0)).mean()
    assert jerk < 0.25 * np.abs(np.diff(naive, 2, axis=0)).mean()
    assert np.abs(np.diff(centers, axis=0)).max() < 0.02 * WIDTH  # no jumps between frames
    for (x1, y1, x2, y2), face in zip(track.boxes, faces, strict=True):
        fx1, fy1, fx2, fy2 = face.box_xyxy
        overlap_w = max(0.0, min(x2, fx2) - max(x1, fx1))
        overlap_h = max(0.0, min(y2, fy2) - max(y1, fy1))
        assert overlap_w * overlap_h > 0.8 * (fx2 - fx1) * (fy2 - fy1)  # the face stays inside
    assert track.has_face.all()


def _crossing(start_x: float, end_x: float, y: float, half_height: float, n: int):
    return [
        FaceGeometry((start_x + (end_x - start_x) * i / (n - 1), y), half_height, 0.0, 0.2)
        for i in range(n)
    ]


def test_two_faces_keep_the_larger_speaker_through_a_crossing() -> None:
    n = 120
    large = _crossing(120, 520, 190, 75, n)
    small = _crossing(540, 100, 150, 45, n)
    track = crop_track(frames_of(small, large), (WIDTH, HEIGHT), fps=FPS)
    centers = box_centers(track.boxes.astype(np.float64))
    to_large = np.linalg.norm(centers - [f.center_xy for f in large], axis=1)
    to_small = np.linalg.norm(centers - [f.center_xy for f in small], axis=1)
    crossing = slice(n // 2 - 10, n // 2 + 10)
    assert (to_large < to_small)[: crossing.start].all()
    assert (to_large < to_small)[crossing.stop :].all()
    assert (to_large < 60).all()  # never captured by the other face, even mid-crossing


def test_highest_score_rule_follows_the_reference_per_frame() -> None:
    n = 30
    large = _crossing(120, 200, 190, 75, n)
    small = _crossing(500, 520, 150, 45, n)
    people = frames_of(small, large)
    boosted = [
        FramePeople(p.rows * np.array([1, 1, 1, 1, 0], np.float32) + [0, 0, 0, 0, 0.5], p.dwpose)
        for p in people
    ]
    for p in boosted:
        p.rows[0, 4] = 0.99  # the small face scores higher in every frame
    choice = SpeakerChoice(rule=SpeakerRule.HIGHEST_SCORE)
    track = crop_track(boosted, (WIDTH, HEIGHT), fps=FPS, speaker=choice)
    centers = box_centers(track.boxes.astype(np.float64))
    assert (np.linalg.norm(centers - [f.center_xy for f in small], axis=1) < 60).all()


def _leaving(n: int, n_visible: int) -> list[FaceGeometry | None]:
    faces: list[FaceGeometry | None] = [
        FaceGeometry((320 + 4 * i, 180), 70, 0.0, 0.2) for i in range(n_visible)
    ]
    return faces + [None] * (n - n_visible)


def test_a_face_leaving_the_frame_is_a_clear_error_naming_the_time() -> None:
    with pytest.raises(MediaError) as caught:
        crop_track(frames_of(_leaving(100, 60)), (WIDTH, HEIGHT), fps=FPS)
    assert caught.value.code == "no_face"
    assert "from 00:02.40 to 00:04.00" in caught.value.message  # frames 60..100 at 25 fps
    assert caught.value.hint


def test_faceless_frames_can_pass_through_untouched() -> None:
    track = crop_track(
        frames_of(_leaving(100, 60)),
        (WIDTH, HEIGHT),
        fps=FPS,
        missing_face=MissingFace.PASS_THROUGH,
    )
    assert track.has_face[:60].all() and not track.has_face[60:].any()


def test_a_short_look_away_is_bridged() -> None:
    faces = _leaving(100, 100)
    faces[40:45] = [None] * 5  # 0.2 s: shorter than MAX_FACELESS_RUN_S
    track = crop_track(frames_of(faces), (WIDTH, HEIGHT), fps=FPS)
    assert not track.has_face[40:45].any() and track.has_face.sum() == 95
    assert math.isclose(track.boxes[42, 0], track.boxes[39, 0], abs_tol=0.05 * WIDTH)
