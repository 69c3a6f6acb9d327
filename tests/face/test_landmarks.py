"""134-point layout, FACE_INDEX and X-Dub's pose_filter against the reference goldens."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from xdub.face.landmarks import (
    EYE_INDICES,
    FACE,
    FACE_INDEX,
    NECK_INDEX,
    NUM_KEYPOINTS,
    face68,
    face_landmarks,
    pose_filter,
)


@pytest.fixture(scope="module")
def face_bbox(golden_dir: Path) -> tuple[dict[str, np.ndarray], dict]:
    meta = json.loads((golden_dir / "face_bbox.json").read_text())
    return load_file(golden_dir / "face_bbox.safetensors"), meta


@pytest.fixture(scope="module")
def wrapper(pose_dir: Path) -> dict[str, np.ndarray]:
    return dict(np.load(pose_dir / "xdub_wrapper_golden.npz"))


def test_face_index_is_the_reference_list(face_bbox: tuple[dict, dict]) -> None:
    _, meta = face_bbox
    assert list(FACE_INDEX) == meta["FACE_INDEX"]
    assert FACE_INDEX[:2] == (face68(39), face68(42)) and FACE_INDEX[-1] == face68(8)


def test_layout_constants_match_the_wrapper_output(wrapper: dict[str, np.ndarray]) -> None:
    images = sorted({key.split("_")[0] for key in wrapper if key.endswith("_keypoints_134")})
    assert images
    for image in images:
        coco = wrapper[f"{image}_keypoints_info_133"][..., :2]
        ours = wrapper[f"{image}_keypoints_134"]
        assert ours.shape[1] == NUM_KEYPOINTS
        # the neck is the mean of the COCO shoulders (rows 5, 6); float32 mean as the wrapper's
        np.testing.assert_array_equal(ours[:, NECK_INDEX], coco[:, [5, 6]].mean(axis=1))
        # COCO eyes are rows 2 (right) and 1 (left)
        np.testing.assert_array_equal(ours[:, list(EYE_INDICES)], coco[:, [2, 1]])
        # feet, face and hands are the COCO rows shifted by the inserted neck
        np.testing.assert_array_equal(ours[:, FACE], coco[:, FACE.start - 1 : FACE.stop - 1])
        np.testing.assert_array_equal(ours[:, 18:], coco[:, 17:])


def test_pose_filter_matches_wrapper_golden(wrapper: dict[str, np.ndarray]) -> None:
    raw = wrapper["extract_dwpose_F1x134x3"]
    before = raw.copy()
    # exact: the same float32 ops in the same order (pose README section 6)
    np.testing.assert_array_equal(pose_filter(raw), wrapper["pose_filter_F1x134x3"])
    np.testing.assert_array_equal(raw, before)  # the input is not modified


def test_pose_filter_and_face_points_match_every_scenario(face_bbox: tuple[dict, dict]) -> None:
    tensors, meta = face_bbox
    assert meta["scenarios"]
    for scenario in meta["scenarios"]:
        filtered = pose_filter(tensors[f"{scenario}_dwpose"])
        if f"{scenario}_pose_filtered" in tensors:
            np.testing.assert_array_equal(filtered, tensors[f"{scenario}_pose_filtered"])
        # exact: golden README section 9, deterministic numpy
        np.testing.assert_array_equal(face_landmarks(filtered), tensors[f"{scenario}_face_ldmk"])


def test_pose_filter_gains() -> None:
    num_frames = 6
    dwpose = np.zeros((num_frames, 1, NUM_KEYPOINTS, 3), dtype=np.float32)
    dwpose[..., 2] = 0.9
    dwpose[1:, 0, :, 0] = 0.005  # every point jumps by 0.5 % of the frame at frame 1
    dwpose[:, 0, 30, 2] = 0.1  # one point scored as unseen
    filtered = pose_filter(dwpose)
    assert filtered.dtype == np.float32 and filtered.shape == dwpose.shape
    x = filtered[:, 0, :, 0]
    gain = 0.1 + 0.9 / (np.exp(3 - 0.005 * 600) + 1)  # = 0.55 for this jump
    np.testing.assert_allclose(x[1, 0], 0.005 * gain, rtol=1e-6)  # rtol: float32 rounding
    np.testing.assert_allclose(x[1, 30], 0.005 * 0.1, rtol=1e-6)  # unseen: slow gain 0.1
    np.testing.assert_allclose(x[1, list(EYE_INDICES)], 0.005, rtol=1e-6)  # eyes: gain 1
    assert np.all(np.diff(x[:, 30]) > 0) and x[-1, 30] < 0.005  # still converging
    np.testing.assert_array_equal(filtered[..., 2], dwpose[..., 2])  # scores untouched


def test_pose_filter_rejects_bad_shape() -> None:
    with pytest.raises(ValueError, match="F, P, K, 3"):
        pose_filter(np.zeros((4, 134, 3), dtype=np.float32))
