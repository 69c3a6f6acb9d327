"""Speaker choice over synthetic per-frame person boxes: tracking by IoU and the three rules."""

from __future__ import annotations

import numpy as np
import pytest

from xdub.errors import MediaError
from xdub.face.speaker import (
    NO_CANDIDATE,
    SpeakerChoice,
    SpeakerRule,
    box_iou,
    choose_speaker,
    track_candidates,
)

NUM_FRAMES = 40


def two_people(seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per-frame candidates (shuffled order) and, per frame, which row is person A / B / C.

    A: large, moving slowly right, low score. B: smaller, higher score, absent in frames 10-14.
    C: a passer-by, briefly larger than A in frames 20-22 only, top score there.
    Returns (candidates, rows) with rows[t] = [row of A, row of B, row of C] or -1.
    """
    rng = np.random.default_rng(seed)
    candidates, rows = [], []
    for t in range(NUM_FRAMES):
        people = {"A": [20 + 2 * t, 40, 220 + 2 * t, 300, 0.7]}
        if not 10 <= t <= 14:
            people["B"] = [400, 60, 520, 220, 0.95]
        if 20 <= t <= 22:
            people["C"] = [250, 0, 620, 470, 0.99]
        names = list(people)
        order = rng.permutation(len(names))
        frame = np.array([people[names[i]] for i in order], dtype=np.float64)
        candidates.append(frame)
        position = {names[i]: row for row, i in enumerate(order)}
        rows.append(np.array([position.get(name, -1) for name in "ABC"]))
    return candidates, rows


def test_iou() -> None:
    a = np.array([[0.0, 0.0, 10.0, 10.0]])
    b = np.array([[5.0, 0.0, 15.0, 10.0], [20.0, 20.0, 30.0, 30.0], [0.0, 0.0, 10.0, 10.0]])
    np.testing.assert_allclose(box_iou(a, b), [[50 / 150, 0.0, 1.0]])
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 3)


def test_tracks_follow_people_through_shuffles_and_gaps() -> None:
    candidates, rows = two_people()
    ids = track_candidates(candidates, min_iou=0.3, max_gap_frames=12)
    track_of = {}
    for t, (frame_ids, frame_rows) in enumerate(zip(ids, rows, strict=True)):
        for person, row in zip("ABC", frame_rows, strict=True):
            if row >= 0:
                assert track_of.setdefault(person, frame_ids[row]) == frame_ids[row], (person, t)
    assert len(set(track_of.values())) == 3


def test_a_gap_longer_than_allowed_starts_a_new_track() -> None:
    candidates, rows = two_people()
    ids = track_candidates(candidates, min_iou=0.3, max_gap_frames=3)  # B is gone for 5 frames
    assert ids[9][rows[9][1]] != ids[15][rows[15][1]]


def test_largest_keeps_the_big_person_across_frames() -> None:
    candidates, rows = two_people()
    chosen = choose_speaker(candidates)  # default: largest
    np.testing.assert_array_equal(chosen, [r[0] for r in rows])


def test_highest_score_is_the_per_frame_reference_rule() -> None:
    candidates, rows = two_people()
    chosen = choose_speaker(candidates, SpeakerChoice(rule=SpeakerRule.HIGHEST_SCORE))
    expected = [r[2] if r[2] >= 0 else r[1] if r[1] >= 0 else r[0] for r in rows]
    np.testing.assert_array_equal(chosen, expected)  # switches person, as X-Dub does


def test_picked_point_follows_that_person_and_reports_gaps() -> None:
    candidates, rows = two_people()
    choice = SpeakerChoice(rule=SpeakerRule.PICKED, frame_index=30, point_xy=(460.0, 100.0))
    chosen = choose_speaker(candidates, choice)
    np.testing.assert_array_equal(chosen, [r[1] for r in rows])
    assert np.all(chosen[10:15] == NO_CANDIDATE)


def test_picked_point_prefers_the_person_in_front() -> None:
    # a small box inside a large one: the point on both picks the small (nearer) person
    nested = [np.array([[0.0, 0.0, 100.0, 100.0, 0.9], [40.0, 40.0, 60.0, 60.0, 0.8]])] * 3
    choice = SpeakerChoice(rule=SpeakerRule.PICKED, frame_index=1, point_xy=(50.0, 50.0))
    np.testing.assert_array_equal(choose_speaker(nested, choice), [1, 1, 1])


def test_picked_box_chooses_the_best_overlap() -> None:
    candidates, rows = two_people()
    choice = SpeakerChoice(rule=SpeakerRule.PICKED, frame_index=5, box_xyxy=(380, 50, 500, 200))
    np.testing.assert_array_equal(choose_speaker(candidates, choice), [r[1] for r in rows])


def test_pick_on_nobody_is_a_media_error() -> None:
    candidates, _ = two_people()
    choice = SpeakerChoice(rule=SpeakerRule.PICKED, frame_index=3, point_xy=(630.0, 470.0))
    with pytest.raises(MediaError, match="frame 3") as error:
        choose_speaker(candidates, choice)
    assert error.value.code == "no_face"
    late = SpeakerChoice(rule=SpeakerRule.PICKED, frame_index=NUM_FRAMES, point_xy=(1.0, 1.0))
    with pytest.raises(MediaError, match="frames"):
        choose_speaker(candidates, late)


def test_frames_without_candidates() -> None:
    empty = np.zeros((0, 5))
    one = np.array([[10.0, 10.0, 50.0, 50.0, 0.9]])
    for rule in (SpeakerRule.LARGEST, SpeakerRule.HIGHEST_SCORE):
        chosen = choose_speaker([empty, one, empty, one], SpeakerChoice(rule=rule))
        np.testing.assert_array_equal(chosen, [-1, 0, -1, 0])
        np.testing.assert_array_equal(
            choose_speaker([empty, empty], SpeakerChoice(rule=rule)), [-1, -1]
        )


def test_invalid_choices() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        SpeakerChoice(rule=SpeakerRule.PICKED)
    with pytest.raises(ValueError, match="only apply"):
        SpeakerChoice(point_xy=(1.0, 2.0))
    with pytest.raises(ValueError, match="score"):
        choose_speaker([np.zeros((2, 4))])
