"""Crop track against X-Dub's golden boxes: every scenario, every strategy, every helper."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from xdub.errors import MediaError
from xdub.face.bbox import (
    BOX_SCALE,
    CropCase,
    constant_size_boxes,
    face_boxes_from_landmarks,
    finalize_bbox_for_crop,
    fixed_boxes,
    judge_case_flag,
    process_bbox,
    shift_boxes_vertically,
    smooth_boxes,
)
from xdub.face.smoothing import centred_mean, normalize_window_length, savgol_edge_padded


@pytest.fixture(scope="module")
def golden(golden_dir: Path) -> tuple[dict[str, np.ndarray], dict]:
    meta = json.loads((golden_dir / "face_bbox.json").read_text())
    assert meta["scenarios"], "face_bbox.json lists no scenarios"
    return load_file(golden_dir / "face_bbox.safetensors"), meta


def assert_float32_exact(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    """Golden README, "Tolerances observed": boxes are deterministic, exact to 1 float32 ulp."""
    assert actual.shape == expected.shape, what
    ulp = np.spacing(np.abs(expected).astype(np.float32)).astype(np.float64)
    error = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    assert np.all(error <= ulp), f"{what}: max error {error.max()}"


def frame_size(meta: dict) -> tuple[int, int]:
    return meta["ori_width"], meta["ori_height"]


def test_boxes_from_landmarks(golden: tuple[dict, dict]) -> None:
    tensors, meta = golden
    for scenario in meta["scenarios"]:
        boxes = face_boxes_from_landmarks(tensors[f"{scenario}_face_ldmk"], *frame_size(meta))
        expected = tensors[f"{scenario}_bbox_from_landmarks"]
        assert_float32_exact(boxes, expected, scenario)
        assert_float32_exact(
            boxes, np.array(meta["scenarios"][scenario]["bbox_from_landmarks"]), scenario
        )


def test_case_flags(golden: tuple[dict, dict]) -> None:
    tensors, meta = golden
    for scenario, info in meta["scenarios"].items():
        case = judge_case_flag(tensors[f"{scenario}_bbox_from_landmarks"])
        assert case == info["case_flag"], scenario


@pytest.mark.parametrize(
    ("key", "strategy"),
    [
        ("fix", fixed_boxes),
        ("size_fix_center_smooth", constant_size_boxes),
        ("smooth", smooth_boxes),
    ],
)
def test_every_strategy_on_every_scenario(golden: tuple[dict, dict], key: str, strategy) -> None:
    tensors, meta = golden
    for scenario in meta["scenarios"]:
        boxes = strategy(tensors[f"{scenario}_bbox_from_landmarks"], *frame_size(meta))
        assert_float32_exact(boxes, tensors[f"{scenario}_strategy_{key}"], f"{scenario} {key}")


@pytest.mark.parametrize("force_fix", [False, True])
def test_final_crop_track(golden: tuple[dict, dict], force_fix: bool) -> None:
    tensors, meta = golden
    suffix = "_force_fix" if force_fix else ""
    for scenario, info in meta["scenarios"].items():
        boxes = tensors[f"{scenario}_bbox_from_landmarks"]
        track, case = process_bbox(boxes, *frame_size(meta), force_fix=force_fix)
        expected = tensors[f"{scenario}_final_bboxes{suffix}"]
        assert track.dtype == np.int64
        np.testing.assert_array_equal(track, expected, err_msg=scenario)  # exact: integers
        np.testing.assert_array_equal(track, info[f"final_bboxes{suffix}"], err_msg=scenario)
        assert case == (CropCase.FORCED_FIX if force_fix else info["case_flag"])


def test_full_chain_from_raw_pose(golden: tuple[dict, dict]) -> None:
    """Pose filter -> landmarks -> boxes -> crop track, with nothing but the raw input given."""
    from xdub.face.landmarks import face_landmarks, pose_filter

    tensors, meta = golden
    for scenario in meta["scenarios"]:
        ldmk = face_landmarks(pose_filter(tensors[f"{scenario}_dwpose"]))
        boxes = face_boxes_from_landmarks(ldmk, *frame_size(meta))
        track, _ = process_bbox(boxes, *frame_size(meta))
        np.testing.assert_array_equal(track, tensors[f"{scenario}_final_bboxes"], err_msg=scenario)


def test_smoothing_helpers(golden: tuple[dict, dict]) -> None:
    tensors, _ = golden
    sequence = tensors["helpers_seq"]
    checked = 0
    for key, expected in tensors.items():
        if match := re.fullmatch(r"helpers_window_smooth(\d+)", key):
            actual = centred_mean(sequence, int(match[1]))
        elif match := re.fullmatch(r"helpers_sg_smooth(\d+)_(\d+)", key):
            actual = savgol_edge_padded(sequence, int(match[1]), int(match[2]))
        else:
            continue
        assert actual.dtype == np.float32, key
        assert_float32_exact(actual, expected, key)
        checked += 1
    assert checked >= 2


def test_window_length_examples(golden: tuple[dict, dict]) -> None:
    _, meta = golden
    for window, size, minimum, expected in meta["normalize_window_length"]:
        assert normalize_window_length(window, size, minimum) == expected, (window, size, minimum)


def test_finalize_examples(golden: tuple[dict, dict]) -> None:
    _, meta = golden
    width, height = frame_size(meta)
    for box, expected in meta["finalize_bbox_for_crop"]:
        assert finalize_bbox_for_crop(np.array(box), width, height).tolist() == expected
    batch = np.array([box for box, _ in meta["finalize_bbox_for_crop"]])
    expected_batch = [expected for _, expected in meta["finalize_bbox_for_crop"]]
    assert finalize_bbox_for_crop(batch, width, height).tolist() == expected_batch


def test_finalize_rejects_non_finite_boxes() -> None:
    with pytest.raises(MediaError, match="NaN") as error:
        finalize_bbox_for_crop(np.array([[0.0, np.nan, 10.0, 10.0]]), 64, 64)
    assert error.value.code == "no_face"


def test_static_face_gives_the_scaled_square() -> None:
    """Long static clip: every box is the 1.45x square about the landmarks and forehead."""
    num_frames, width, height = 3000, 1280, 720
    rng = np.random.default_rng(0)
    face = rng.uniform(0.45, 0.55, (79, 2)).astype(np.float32)
    face[:4, 0] = [0.48, 0.52, 0.47, 0.53]  # eye corners, jaw points: both centred on x = 0.5
    face[:2, 1] = 0.45
    face[2:4, 1] = 0.55  # so the forehead point lands 1.1 x 0.1 above the eyes, at y = 0.34
    ldmk = np.repeat(face[None], num_frames, axis=0)
    boxes = face_boxes_from_landmarks(ldmk, width, height)
    x_min, x_max = face[:, 0].min() * width, face[:, 0].max() * width
    y_min, y_max = 0.34 * height, face[:, 1].max() * height
    side = BOX_SCALE * max(x_max - x_min, y_max - y_min)
    expected = [
        (x_min + x_max - side) / 2,
        (y_min + y_max - side) / 2,
        (x_min + x_max + side) / 2,
        (y_min + y_max + side) / 2,
    ]
    # atol 1e-3 px: float32 landmark smoothing of a constant track
    np.testing.assert_allclose(boxes, np.tile(expected, (num_frames, 1)), atol=1e-3)
    track, case = process_bbox(boxes, width, height)
    assert case is CropCase.STATIC and len(np.unique(track, axis=0)) == 1


def test_box_larger_than_frame_becomes_frame_square() -> None:
    ldmk = np.tile(np.array([[0.1, 0.1], [0.9, 0.9]], np.float32), (5, 40, 1))[:, :79]
    boxes = face_boxes_from_landmarks(ldmk, 200, 100)
    sides = boxes[:, 2:] - boxes[:, :2]
    np.testing.assert_allclose(sides, 100.0)  # min(W, H); exact up to float32 averaging
    assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2] <= 200) and np.all(boxes[:, 3] <= 100)


def test_single_frame_clip() -> None:
    ldmk = np.random.default_rng(1).uniform(0.3, 0.6, (1, 79, 2)).astype(np.float32)
    boxes = face_boxes_from_landmarks(ldmk, 320, 240)
    for force_fix in (False, True):
        track, _ = process_bbox(boxes, 320, 240, force_fix=force_fix)
        assert track.shape == (1, 4)
        assert np.all(track[:, 2:] > track[:, :2])


def test_vertical_shift() -> None:
    boxes = np.array([[10.0, 20.0, 60.0, 70.0], [10.0, 40.0, 60.0, 90.0]])
    np.testing.assert_array_equal(shift_boxes_vertically(boxes, 100, 0.0), boxes)
    shifted = shift_boxes_vertically(boxes, 100, 0.2)  # 10 px down; the second one hits y = 100
    np.testing.assert_array_equal(shifted, [[10.0, 30.0, 60.0, 80.0], [10.0, 50.0, 60.0, 100.0]])
    raised = shift_boxes_vertically(boxes, 100, -0.6)  # 30 px up; the first one stops at y = 0
    np.testing.assert_array_equal(raised, [[10.0, 0.0, 60.0, 50.0], [10.0, 10.0, 60.0, 60.0]])


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(MediaError, match=r"\(F, 4\)"):
        process_bbox(np.zeros((0, 4)), 64, 64)
    with pytest.raises(MediaError, match="no frames"):
        face_boxes_from_landmarks(np.zeros((0, 79, 2), np.float32), 64, 64)
    with pytest.raises(ValueError, match=r"\(F, 79, 2\)"):
        face_boxes_from_landmarks(np.zeros((5, 79, 3), np.float32), 64, 64)
