"""Face crop: PIL crop + antialiased bilinear resize, against X-Dub's golden crops."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from xdub.errors import MediaError
from xdub.face.crop import crop_face


def test_crops_match_golden(golden_dir: Path) -> None:
    tensors = load_file(golden_dir / "face_bbox.safetensors")
    meta = json.loads((golden_dir / "face_bbox.json").read_text())
    size = meta["crop_resize_size"]
    expected = tensors[f"crop_resized_{size}"]
    frame = tensors["crop_raw_frame"]
    for index, box in enumerate(tensors["crop_bboxes"]):
        # exact: uint8 function of uint8 input (golden README, tolerances)
        np.testing.assert_array_equal(crop_face(frame, box, size), expected[index])


def test_downscale_antialiases() -> None:
    """A 1-px checkerboard shrunk 4x turns grey (PIL averages); plain bilinear would alias."""
    board = (np.indices((64, 64)).sum(axis=0) % 2 * 255).astype(np.uint8)
    frame = np.repeat(board[..., None], 3, axis=2)
    crop = crop_face(frame, np.array([0, 0, 64, 64]), 16)
    assert crop.shape == (16, 16, 3) and crop.dtype == np.uint8
    assert np.all(np.abs(crop.astype(int) - 127) <= 2)


def test_one_to_one_crop_is_a_copy() -> None:
    frame = np.random.default_rng(0).integers(0, 256, (50, 60, 3), dtype=np.uint8)
    np.testing.assert_array_equal(
        crop_face(frame, np.array([10, 5, 42, 37]), 32), frame[5:37, 10:42]
    )


@pytest.mark.parametrize("box", [[0, 0, 61, 50], [-1, 0, 10, 10], [5, 5, 5, 9]])
def test_box_outside_frame_is_rejected(box: list[int]) -> None:
    frame = np.zeros((50, 60, 3), dtype=np.uint8)
    with pytest.raises(MediaError, match="outside the 60x50 frame"):
        crop_face(frame, np.array(box))


def test_frame_must_be_rgb_uint8() -> None:
    with pytest.raises(MediaError, match="uint8"):
        crop_face(np.zeros((50, 60, 3), dtype=np.float32), np.array([0, 0, 10, 10]))
