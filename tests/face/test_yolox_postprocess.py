"""YOLOX pre/post-processing against mmdet's golden stages, and X-Dub's person pick."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from xdub.errors import MediaError
from xdub.face.detect import (
    Detections,
    batched_nms,
    candidates,
    detect_persons,
    letterbox,
    nms_plus_one,
    person_box,
    postprocess,
)
from xdub.face.nets.configs import YoloxConfig
from xdub.face.nets.yolox import Yolox


@pytest.fixture(scope="module")
def config(pose_dir: Path) -> YoloxConfig:
    model = json.loads((pose_dir / "reduced_config.json").read_text())["yolox"]["model"]
    return YoloxConfig.from_mmdet(model)


@pytest.fixture(scope="module")
def golden(pose_dir: Path) -> dict[str, np.ndarray]:
    return dict(np.load(pose_dir / "yolox_golden.npz"))


@pytest.fixture(scope="module")
def frames(pose_dir: Path) -> list[np.ndarray]:
    images = np.load(pose_dir / "golden_images.npz")
    return [images[f"img{i}_bgr_u8"] for i in range(len(images.files))]


@pytest.fixture(scope="module")
def wrapper(pose_dir: Path) -> dict[str, np.ndarray]:
    return dict(np.load(pose_dir / "xdub_wrapper_golden.npz"))


def _raw(golden: dict[str, np.ndarray], i: int) -> tuple[list[torch.Tensor], ...]:
    levels = len([k for k in golden if k.startswith(f"img{i}_raw_cls_l")])
    return tuple(
        [torch.from_numpy(golden[f"img{i}_raw_{name}_l{level}"]) for level in range(levels)]
        for name in ("cls", "bbox", "obj")
    )


def _with_raw(golden: dict[str, np.ndarray], frames: list[np.ndarray]) -> list[int]:
    stored = [i for i in range(len(frames)) if f"img{i}_raw_cls_l0" in golden]
    assert stored, "the golden set stores raw head outputs for at least one image"
    return stored


def _golden_stage(golden: dict[str, np.ndarray], i: int, stage: str) -> Detections:
    return Detections(
        golden[f"img{i}_{stage}_bboxes"],
        golden[f"img{i}_{stage}_scores"],
        golden[f"img{i}_{stage}_labels"],
        golden[f"img{i}_{stage}_prior_index"],
    )


def test_letterbox_reproduces_the_detector_input_bit_exactly(
    frames: list[np.ndarray], golden: dict[str, np.ndarray]
) -> None:
    for i, frame in enumerate(frames):
        canvas, scale_factor = letterbox(frame)
        np.testing.assert_array_equal(canvas.transpose(2, 0, 1)[None], golden[f"img{i}_input_u8"])
        assert scale_factor == tuple(golden[f"img{i}_scale_factor"])
        assert canvas.shape[:2] == tuple(golden[f"img{i}_img_shape"])


def test_candidates_from_golden_raw_outputs_match_mmdet(
    frames: list[np.ndarray], golden: dict[str, np.ndarray], config: YoloxConfig
) -> None:
    for i in _with_raw(golden, frames):
        scale = tuple(golden[f"img{i}_scale_factor"])
        found = candidates(*_raw(golden, i), [scale], config)[0]
        ref = _golden_stage(golden, i, "prenms")
        np.testing.assert_array_equal(found.prior_index, ref.prior_index)
        np.testing.assert_array_equal(found.labels, ref.labels)
        # atol: README §8, post-processing fed the golden raw outputs: boxes 1e-3 px, scores 1e-6.
        np.testing.assert_allclose(found.bboxes, ref.bboxes, rtol=0, atol=1e-3)
        np.testing.assert_allclose(found.scores, ref.scores, rtol=0, atol=1e-6)


def test_class_aware_nms_keeps_what_mmcv_keeps(
    frames: list[np.ndarray], golden: dict[str, np.ndarray], config: YoloxConfig
) -> None:
    for i in range(len(frames)):
        ref = _golden_stage(golden, i, "prenms")
        keep = batched_nms(
            torch.from_numpy(ref.bboxes),
            torch.from_numpy(ref.scores),
            torch.from_numpy(ref.labels),
            config.nms_iou_thr,
        ).numpy()
        np.testing.assert_array_equal(keep, golden[f"img{i}_nms_keep"])
        final = ref.take(keep)
        expected = _golden_stage(golden, i, "det")
        np.testing.assert_array_equal(final.prior_index, expected.prior_index)
        np.testing.assert_array_equal(final.labels, expected.labels)
        np.testing.assert_array_equal(final.bboxes, expected.bboxes)
        np.testing.assert_array_equal(final.scores, expected.scores)


def test_postprocess_of_golden_raw_outputs_gives_the_final_detections(
    frames: list[np.ndarray], golden: dict[str, np.ndarray], config: YoloxConfig
) -> None:
    for i in _with_raw(golden, frames):
        dets = postprocess(_raw(golden, i), [tuple(golden[f"img{i}_scale_factor"])], config)[0]
        ref = _golden_stage(golden, i, "det")
        np.testing.assert_array_equal(dets.prior_index, ref.prior_index)
        np.testing.assert_array_equal(dets.labels, ref.labels)
        # atol: as for the candidates (README §8): boxes 1e-3 px, scores 1e-6.
        np.testing.assert_allclose(dets.bboxes, ref.bboxes, rtol=0, atol=1e-3)
        np.testing.assert_allclose(dets.scores, ref.scores, rtol=0, atol=1e-6)


def test_person_pick_of_golden_detections_is_xdubs_box(
    frames: list[np.ndarray], golden: dict[str, np.ndarray], wrapper: dict[str, np.ndarray]
) -> None:
    for i in range(len(frames)):
        box = person_box(_golden_stage(golden, i, "det"))
        assert box.dtype == np.float32
        np.testing.assert_array_equal(box, wrapper[f"img{i}_det_result"])


def test_detect_persons_end_to_end_in_batches(
    pose_dir: Path,
    config: YoloxConfig,
    frames: list[np.ndarray],
    golden: dict[str, np.ndarray],
    wrapper: dict[str, np.ndarray],
) -> None:
    model = Yolox.from_checkpoint(pose_dir / "yolox_reduced.safetensors", config)
    found = detect_persons(model, frames, batch_size=2)
    assert len(found) == len(frames)
    for i, dets in enumerate(found):
        # atol: README §8 end to end: X-Dub's chosen box to 1e-2 px (float32 conv noise of
        # ~1e-3 in the raw box deltas, times strides up to 32, divided by the letterbox scale).
        np.testing.assert_allclose(
            person_box(dets), wrapper[f"img{i}_det_result"], rtol=0, atol=1e-2
        )
        ref = _golden_stage(golden, i, "det")
        confident, ref_confident = dets.scores >= 0.05, ref.scores >= 0.05
        assert set(zip(dets.prior_index[confident], dets.labels[confident], strict=True)) == set(
            zip(ref.prior_index[ref_confident], ref.labels[ref_confident], strict=True)
        )


def test_nms_is_per_class_and_strict_above_the_threshold() -> None:
    boxes = torch.tensor(
        [[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 6.5]], dtype=torch.float32
    )
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    labels = torch.tensor([0, 1, 0, 1])
    # box 1 and 3 share class 1 with IoU 0.65 exactly in float32: kept, as mmcv needs IoU > thr
    keep = batched_nms(boxes, scores, labels, 0.65)
    assert keep.tolist() == [0, 1, 3]
    assert batched_nms(boxes[:0], scores[:0], labels[:0], 0.65).numel() == 0


def test_mmpose_nms_uses_plus_one_sizes() -> None:
    # 2×2 px boxes [0, 2] and [0.5, 2.5]: with +1 sizes IoU = 7.5 / 10.5 = 0.714 > 0.7, so the
    # second is suppressed (without +1 it would be 3 / 5 = 0.6 and kept); a far box stays.
    dets = np.array(
        [[0, 0, 2, 2, 0.9], [0.5, 0, 2.5, 2, 0.8], [20, 20, 22, 22, 0.7]], dtype=np.float32
    )
    assert nms_plus_one(dets, 0.7) == [0, 2]
    assert nms_plus_one(dets[:0], 0.7) == []
    none = Detections(
        np.zeros((1, 4), np.float32), np.array([0.4], np.float32), np.zeros(1, np.int64),
        np.zeros(1, np.int64),
    )  # fmt: skip
    assert person_box(none).shape == (0, 4)


def test_letterbox_rejects_what_it_cannot_detect_in() -> None:
    with pytest.raises(MediaError):
        letterbox(np.zeros((4, 4), np.uint8))
    with pytest.raises(MediaError):
        letterbox(np.zeros((1, 5000, 3), np.uint8))
