"""RTMW top-down processing against mmpose's golden stages: crop, input, flip test, decode."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from xdub.face.affine import bbox_center_scale, fix_aspect_ratio, warp_affine_linear, warp_matrix
from xdub.face.nets.configs import RtmwConfig
from xdub.face.nets.rtmw import Rtmw
from xdub.face.pose import (
    BBOX_PADDING,
    WHOLEBODY_FLIP_INDICES,
    crop_frames,
    crop_to_image,
    estimate_wholebody,
    flip_average,
    normalize_crops,
    simcc_decode,
)


@pytest.fixture(scope="module")
def config(pose_dir: Path) -> RtmwConfig:
    model = json.loads((pose_dir / "reduced_config.json").read_text())["rtmw"]["model"]
    return RtmwConfig.from_mmpose(model)


@pytest.fixture(scope="module")
def golden(pose_dir: Path) -> dict[str, np.ndarray]:
    return dict(np.load(pose_dir / "rtmw_golden.npz"))


@pytest.fixture(scope="module")
def frames(pose_dir: Path) -> list[np.ndarray]:
    images = np.load(pose_dir / "golden_images.npz")
    return [images[f"img{i}_bgr_u8"] for i in range(len(images.files))]


def _cases(golden: dict[str, np.ndarray]) -> list[int]:
    return sorted(int(k[4 : k.index("_")]) for k in golden if k.endswith("_bbox_xyxy"))


def _raw(golden: dict[str, np.ndarray], case: int) -> list[torch.Tensor]:
    names = ("raw_x", "raw_y", "raw_x_flippass", "raw_y_flippass")
    return [torch.from_numpy(golden[f"case{case}_{name}"]) for name in names]


def test_flip_indices_are_the_coco_wholebody_map(golden: dict[str, np.ndarray]) -> None:
    assert list(WHOLEBODY_FLIP_INDICES) == golden["flip_indices"].tolist()


def test_box_centre_scale_warp_and_crop_are_bit_exact(
    golden: dict[str, np.ndarray], frames: list[np.ndarray], config: RtmwConfig
) -> None:
    width, height = config.input_size
    for case in _cases(golden):
        center, scale = bbox_center_scale(golden[f"case{case}_bbox_xyxy"], BBOX_PADDING)
        scale = fix_aspect_ratio(scale, width / height)
        np.testing.assert_array_equal(center, golden[f"case{case}_center"])
        np.testing.assert_array_equal(scale, golden[f"case{case}_scale"])
        matrix = warp_matrix(center, scale, (width, height))
        np.testing.assert_array_equal(matrix, golden[f"case{case}_warp_mat"])
        crop = warp_affine_linear(frames[case], matrix, (width, height))
        np.testing.assert_array_equal(crop, golden[f"case{case}_crop_bgr_u8"])


def test_crops_and_normalised_inputs_are_bit_exact(
    golden: dict[str, np.ndarray], frames: list[np.ndarray], config: RtmwConfig
) -> None:
    cases = _cases(golden)
    boxes = [golden[f"case{c}_bbox_xyxy"] for c in cases]
    batch = crop_frames([frames[c] for c in cases], boxes, config)
    for row, case in enumerate(cases):
        np.testing.assert_array_equal(batch.crops[row], golden[f"case{case}_crop_bgr_u8"])
        np.testing.assert_array_equal(batch.centers[row], golden[f"case{case}_center"])
        np.testing.assert_array_equal(batch.scales[row], golden[f"case{case}_scale"])
    inputs = normalize_crops(torch.from_numpy(batch.crops), config).numpy()
    for row, case in enumerate(cases):
        np.testing.assert_array_equal(inputs[row : row + 1], golden[f"case{case}_input"])


def test_a_frame_without_box_is_cropped_whole(
    golden: dict[str, np.ndarray], frames: list[np.ndarray], config: RtmwConfig
) -> None:
    for case in _cases(golden):
        height, width = frames[case].shape[:2]
        if golden[f"case{case}_bbox_xyxy"].tolist() == [0, 0, width, height]:
            crop = crop_frames([frames[case]], [None], config).crops[0]
            np.testing.assert_array_equal(crop, golden[f"case{case}_crop_bgr_u8"])


def test_warp_is_opencv_bilinear_on_exact_grids() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(20, 30, 3), dtype=np.uint8)
    shift = np.array([[1.0, 0.0, -3.0], [0.0, 1.0, -2.0]])  # out(x, y) = in(x + 3, y + 2)
    out = warp_affine_linear(image, shift, (24, 16))
    np.testing.assert_array_equal(out[:, :24][:16], image[2:18, 3:27])
    half = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]])  # out(x) = in(x - 0.5): mean, half up
    out = warp_affine_linear(image, half, (30, 20)).astype(int)
    expected = (image[:, :-1].astype(int) + image[:, 1:] + 1) // 2
    np.testing.assert_array_equal(out[:, 1:], expected)
    np.testing.assert_array_equal(out[:, 0], (image[:, 0].astype(int) + 1) // 2)  # zero border
    away = np.array([[1.0, 0.0, 500.0], [0.0, 1.0, 0.0]])
    assert not warp_affine_linear(image, away, (30, 20)).any()


def test_warp_agrees_with_installed_opencv_to_rounding(frames: list[np.ndarray]) -> None:
    """OpenCV 5 rounds sub-pixel positions differently from 4.x, but never by much."""
    center, scale = np.array([200.0, 150.0], np.float32), np.array([180.0, 240.0], np.float32)
    matrix = warp_matrix(center, scale, (288, 384))
    ours = warp_affine_linear(frames[0], matrix, (288, 384)).astype(int)
    theirs = cv2.warpAffine(frames[0], matrix, (288, 384), flags=cv2.INTER_LINEAR).astype(int)
    difference = np.abs(ours - theirs)
    # atol 8 levels / 5 %: the two only disagree where a 1/32-px position rounds differently.
    assert difference.max() <= 8 and (difference > 0).mean() < 0.05


def test_decode_of_golden_raw_outputs_with_and_without_flip(
    golden: dict[str, np.ndarray], config: RtmwConfig
) -> None:
    for case in _cases(golden):
        x0, y0, x1, y1 = _raw(golden, case)
        merged = flip_average(x0, y0, x1, y1, WHOLEBODY_FLIP_INDICES)
        for mode, (x, y) in (("flip", merged), ("noflip", (x0, y0))):
            decoded = simcc_decode(x, y, config)
            key = f"case{case}_{mode}"
            np.testing.assert_array_equal(
                decoded.keypoints.numpy(), golden[f"{key}_kpts_input_space"]
            )
            # atol: README §8, decode from the golden raw outputs: scores exact up to 1e-6,
            # visibility 1e-6 (float32 softmax; the summation order differs from numpy's).
            np.testing.assert_allclose(
                decoded.scores.numpy(), golden[f"{key}_scores"], rtol=0, atol=1e-6
            )
            np.testing.assert_allclose(
                decoded.visible.numpy(), golden[f"{key}_visible"], rtol=0, atol=1e-6
            )
            image_xy = crop_to_image(
                decoded.keypoints.numpy(),
                golden[f"case{case}_center"][None],
                golden[f"case{case}_scale"][None],
                config.input_size,
            )
            # atol: README §8, image keypoints 1e-4 px (float64 arithmetic stored as float32).
            np.testing.assert_allclose(image_xy, golden[f"{key}_kpts_image"], rtol=0, atol=1e-4)


def test_decode_edge_cases_negative_rows_and_ties(
    golden: dict[str, np.ndarray], config: RtmwConfig
) -> None:
    x0, y0, x1, y1 = _raw(golden, 0)
    x, y = flip_average(x0, y0, x1, y1, WHOLEBODY_FLIP_INDICES)
    x, y = x.clone(), y.clone()
    negative = golden["edge_neg_rows"].tolist()
    x[0, negative] = -x[0, negative].abs() - 0.1
    y[0, negative] = -y[0, negative].abs() - 0.1
    tie = x[0, 10].max() + 1
    x[0, 10, 100], x[0, 10, 300] = tie, tie
    decoded = simcc_decode(x, y, config)
    np.testing.assert_array_equal(decoded.keypoints.numpy(), golden["edge_kpts_input_space"])
    assert (decoded.keypoints[0, negative] == -0.5).all()
    assert decoded.keypoints[0, 10, 0] == 50.0  # first of the tied bins, / split ratio 2
    # atol: as for the plain decode (README §8): scores 1e-6, float32 visibility 1e-6.
    np.testing.assert_allclose(decoded.scores.numpy(), golden["edge_scores"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(decoded.visible.numpy(), golden["edge_visible"], rtol=0, atol=1e-6)


def test_estimate_wholebody_on_golden_boxes_in_batches(
    pose_dir: Path, golden: dict[str, np.ndarray], frames: list[np.ndarray], config: RtmwConfig
) -> None:
    model = Rtmw.from_checkpoint(pose_dir / "rtmw_reduced.safetensors", config)
    cases = _cases(golden)
    result = estimate_wholebody(
        model, [frames[c] for c in cases], [golden[f"case{c}_bbox_xyxy"] for c in cases], 2
    )
    for row, case in enumerate(cases):
        robust = (golden[f"case{case}_flip_gap_x"][0] >= 2e-3) & (
            golden[f"case{case}_flip_gap_y"][0] >= 2e-3
        )
        # atol: README §8 end to end: keypoints exact (1e-3 px) on rows whose top-1/top-2 gap
        # is ≥ 2e-3 (elsewhere float32 noise may pick the neighbouring bin); scores 3e-3.
        np.testing.assert_allclose(
            result.keypoints[row][robust], golden[f"case{case}_flip_kpts_image"][0][robust],
            rtol=0, atol=1e-3,
        )  # fmt: skip
        np.testing.assert_allclose(
            result.scores[row], golden[f"case{case}_flip_scores"][0], rtol=0, atol=3e-3
        )
    assert result.keypoints.dtype == np.float32 and result.keypoints.shape[1:] == (133, 2)
