"""X-Dub's ``Wholebody.__call__`` / ``extract_dwpose`` against the wrapper golden."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from xdub.face.landmarks import pose_filter
from xdub.face.nets.configs import RtmwConfig, YoloxConfig
from xdub.face.nets.rtmw import Rtmw
from xdub.face.nets.yolox import Yolox
from xdub.face.wholebody import (
    WholebodyEstimator,
    WholebodyFrame,
    normalized_dwpose,
    to_openpose_134,
)


@pytest.fixture(scope="module")
def estimator(pose_dir: Path) -> WholebodyEstimator:
    config = json.loads((pose_dir / "reduced_config.json").read_text())
    detector = Yolox.from_checkpoint(
        pose_dir / "yolox_reduced.safetensors", YoloxConfig.from_mmdet(config["yolox"]["model"])
    )
    pose = Rtmw.from_checkpoint(
        pose_dir / "rtmw_reduced.safetensors", RtmwConfig.from_mmpose(config["rtmw"]["model"])
    )
    return WholebodyEstimator(detector, pose)


@pytest.fixture(scope="module")
def wrapper(pose_dir: Path) -> dict[str, np.ndarray]:
    return dict(np.load(pose_dir / "xdub_wrapper_golden.npz"))


@pytest.fixture(scope="module")
def pose_golden(pose_dir: Path) -> dict[str, np.ndarray]:
    return dict(np.load(pose_dir / "rtmw_golden.npz"))


@pytest.fixture(scope="module")
def frames(pose_dir: Path) -> list[np.ndarray]:
    images = np.load(pose_dir / "golden_images.npz")
    return [images[f"img{i}_bgr_u8"] for i in range(len(images.files))]


def _golden_frame(wrapper: dict[str, np.ndarray], i: int) -> WholebodyFrame:
    return WholebodyFrame(
        wrapper[f"img{i}_keypoints_info_133"],
        wrapper[f"img{i}_keypoints_134"],
        wrapper[f"img{i}_scores_134"],
        wrapper[f"img{i}_visible_134"],
        wrapper[f"img{i}_det_result"],
    )


def _sizes(frames: list[np.ndarray]) -> list[tuple[int, int]]:
    return [(frame.shape[1], frame.shape[0]) for frame in frames]


def _robust_rows(pose_golden: dict[str, np.ndarray], i: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose SimCC top-1/top-2 gaps are ≥ 2e-3 (README §8), in the 133 and 134 layouts."""
    gap_x, gap_y = pose_golden[f"case{i}_flip_gap_x"], pose_golden[f"case{i}_flip_gap_y"]
    robust_133 = ((gap_x >= 2e-3) & (gap_y >= 2e-3))[0]
    as_info = np.repeat(robust_133.astype(np.float32)[None, :, None], 4, axis=2)
    robust_134 = to_openpose_134(as_info)[0, :, 0] == 1.0  # the neck needs both shoulders
    return robust_133, robust_134


def test_neck_insert_and_openpose_order_reproduce_the_wrapper(
    wrapper: dict[str, np.ndarray], frames: list[np.ndarray]
) -> None:
    for i in range(len(frames)):
        info = to_openpose_134(wrapper[f"img{i}_keypoints_info_133"])
        assert info.dtype == np.float32 and info.shape[1] == 134
        np.testing.assert_array_equal(info[..., :2], wrapper[f"img{i}_keypoints_134"])
        np.testing.assert_array_equal(info[..., 2], wrapper[f"img{i}_scores_134"])
        np.testing.assert_array_equal(info[..., 3], wrapper[f"img{i}_visible_134"])


def test_extract_dwpose_normalisation_of_the_wrapper_output(
    wrapper: dict[str, np.ndarray], frames: list[np.ndarray]
) -> None:
    results = [_golden_frame(wrapper, i) for i in range(len(frames))]
    dwpose = normalized_dwpose(results, _sizes(frames))
    np.testing.assert_array_equal(dwpose, wrapper["extract_dwpose_F1x134x3"])


def test_pose_filter_of_extract_dwpose(wrapper: dict[str, np.ndarray]) -> None:
    filtered = pose_filter(wrapper["extract_dwpose_F1x134x3"])
    # atol: float32 EMA arithmetic in the same order as X-Dub's; only exp() may differ by an ulp.
    np.testing.assert_allclose(filtered, wrapper["pose_filter_F1x134x3"], rtol=0, atol=1e-6)


def test_estimator_on_xdubs_boxes_reproduces_the_wrapper(
    estimator: WholebodyEstimator,
    wrapper: dict[str, np.ndarray],
    pose_golden: dict[str, np.ndarray],
    frames: list[np.ndarray],
) -> None:
    boxes = [wrapper[f"img{i}_det_result"] for i in range(len(frames))]
    results = estimator(frames, batch_size=2, boxes=boxes)
    dwpose = normalized_dwpose(results, _sizes(frames))
    for i, result in enumerate(results):
        robust_133, robust_134 = _robust_rows(pose_golden, i)
        info = wrapper[f"img{i}_keypoints_info_133"]
        np.testing.assert_array_equal(result.det_box, boxes[i])
        # atol: README §8 end to end: keypoints exact (1e-3 px) on rows with SimCC gaps ≥ 2e-3,
        # scores 3e-3 (float32 noise of the raw outputs, ~1e-4 here).
        np.testing.assert_allclose(
            result.keypoints_info_133[0, robust_133, :2], info[0, robust_133, :2], rtol=0, atol=1e-3
        )
        np.testing.assert_allclose(
            result.keypoints_info_133[..., 2], info[..., 2], rtol=0, atol=3e-3
        )
        # atol: the visibility is a softmax at temperature 1/(150·σ) ≈ 1/900, which turns ~1e-4
        # of raw-output noise into up to ~1e-2 (measured 1.3e-2 at v = 0.53); a wrong decode is
        # off by ~0.5. X-Dub discards it (README §5, §8).
        np.testing.assert_allclose(
            result.keypoints_info_133[..., 3], info[..., 3], rtol=0, atol=5e-2
        )
        np.testing.assert_allclose(
            result.keypoints[0, robust_134], wrapper[f"img{i}_keypoints_134"][0, robust_134],
            rtol=0, atol=1e-3,
        )  # fmt: skip
        # atol: scores as above; the neck row is 0 or 10 (both shoulders > 0.5, or not).
        np.testing.assert_allclose(result.scores, wrapper[f"img{i}_scores_134"], rtol=0, atol=3e-3)
        frame_size = np.array(_sizes(frames)[i], dtype=np.float64)
        ours_dw, golden_dw = dwpose[i, 0], wrapper["extract_dwpose_F1x134x3"][i, 0]
        # atol: the 1e-3 px / 3e-3 score tolerances above, back in pixels and in score / 10.
        np.testing.assert_allclose(
            ours_dw[robust_134, :2] * frame_size,
            golden_dw[robust_134, :2] * frame_size,
            rtol=0,
            atol=1e-3,
        )
        np.testing.assert_allclose(ours_dw[:, 2], golden_dw[:, 2], rtol=0, atol=3e-4)


def test_estimator_end_to_end_with_the_detector(
    estimator: WholebodyEstimator,
    wrapper: dict[str, np.ndarray],
    pose_golden: dict[str, np.ndarray],
    frames: list[np.ndarray],
) -> None:
    results = list(estimator.stream(iter(frames), batch_size=2))
    assert len(results) == len(frames)
    for i, result in enumerate(results):
        golden_box = wrapper[f"img{i}_det_result"]
        assert result.det_box.shape == golden_box.shape
        # atol: README §8 end to end: X-Dub's chosen box to 1e-2 px.
        np.testing.assert_allclose(result.det_box, golden_box, rtol=0, atol=1e-2)
        if len(golden_box) == 0:  # whole-frame crop: the pose input is bit-exact, so are points
            robust_133, _ = _robust_rows(pose_golden, i)
            info = wrapper[f"img{i}_keypoints_info_133"]
            # atol: as in the test above (README §8).
            np.testing.assert_allclose(
                result.keypoints_info_133[0, robust_133, :2], info[0, robust_133, :2],
                rtol=0, atol=1e-3,
            )  # fmt: skip


def test_bad_boxes_and_batch_sizes_are_refused(
    estimator: WholebodyEstimator, frames: list[np.ndarray]
) -> None:
    with pytest.raises(ValueError, match="one person box"):
        estimator(frames[:1], boxes=[np.zeros((2, 4), np.float32)])
    with pytest.raises(ValueError, match="fewer boxes"):
        estimator(frames[:2], boxes=[np.zeros((0, 4), np.float32)])
    with pytest.raises(ValueError, match="batch_size"):
        estimator(frames[:1], batch_size=0)
