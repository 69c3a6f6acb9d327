"""Border blend and paste-back against X-Dub's golden frames, masks and flags."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from xdub.errors import MediaError
from xdub.face.paste import (
    BLEND_BLUR_PX,
    BLEND_BORDER_PX,
    blend_border,
    blurred_border_mask,
    border_flags,
    normalize_blend_edge,
    paste_edge_mask,
    paste_face,
)


@pytest.fixture(scope="module")
def blend_golden(golden_dir: Path) -> dict[str, np.ndarray]:
    return load_file(golden_dir / "blend_crop.safetensors")


@pytest.fixture(scope="module")
def paste_golden(golden_dir: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    return (
        load_file(golden_dir / "paste_back.safetensors"),
        load_file(golden_dir / "paste_back_intermediates.safetensors"),
    )


def blend_prefixes(tensors: dict[str, np.ndarray]) -> list[str]:
    prefixes = sorted({m[1] for k in tensors if (m := re.fullmatch(r"(blend\d+)_output", k))})
    assert prefixes, "no blend cases in blend_crop.safetensors"
    return prefixes


def test_border_blend_matches_golden(blend_golden: dict[str, np.ndarray]) -> None:
    for prefix in blend_prefixes(blend_golden):
        generated, ref = blend_golden[f"{prefix}_generated"], blend_golden[f"{prefix}_ref"]
        height, width = generated.shape[:2]
        mask = blurred_border_mask(height, width, (BLEND_BORDER_PX,) * 4, BLEND_BLUR_PX)
        # exact: cv2.blur of a float32 0/1 mask, uint8 blend (golden README section 8)
        np.testing.assert_array_equal(mask, blend_golden[f"{prefix}_mask"], err_msg=prefix)
        output = blend_border(generated, ref)
        np.testing.assert_array_equal(output, blend_golden[f"{prefix}_output"], err_msg=prefix)


def test_border_blend_of_a_batch_equals_per_frame(blend_golden: dict[str, np.ndarray]) -> None:
    for prefix in blend_prefixes(blend_golden):
        generated, ref = blend_golden[f"{prefix}_generated"], blend_golden[f"{prefix}_ref"]
        batch = blend_border(np.stack([generated, ref]), np.stack([ref, generated]))
        np.testing.assert_array_equal(batch[0], blend_golden[f"{prefix}_output"])
        np.testing.assert_array_equal(batch[1], blend_border(ref, generated))


def test_border_blend_keeps_the_generated_centre() -> None:
    rng = np.random.default_rng(0)
    generated, ref = rng.integers(0, 256, (2, 128, 128, 3), dtype=np.uint8)
    output = blend_border(generated, ref)
    reach = BLEND_BORDER_PX + 2 * (BLEND_BLUR_PX // 2)  # two box blurs widen the band
    np.testing.assert_array_equal(
        output[reach:-reach, reach:-reach], generated[reach:-reach, reach:-reach]
    )
    assert not np.array_equal(output[0], generated[0])


def test_paste_back_matches_golden(paste_golden: tuple[dict, dict]) -> None:
    tensors, intermediates = paste_golden
    frame, crop = tensors["raw_frame"], tensors["crop"]
    height, width = frame.shape[:2]
    for index, box in enumerate(tensors["bboxes"]):
        flags = border_flags(box, height, width)
        np.testing.assert_array_equal(np.array(flags, np.uint8), intermediates[f"box{index}_flags"])
        if f"box{index}_edge_mask" in intermediates:
            mask = paste_edge_mask(int(box[3] - box[1]), int(box[2] - box[0]), flags)
            # exact: deterministic float32 box blur
            np.testing.assert_array_equal(mask, intermediates[f"box{index}_edge_mask"])
        pasted = paste_face(frame, crop, box)
        # exact: uint8 function of uint8 inputs (golden README, tolerances)
        np.testing.assert_array_equal(pasted, tensors["output"][index], err_msg=f"box {index}")


def test_paste_touches_only_the_box() -> None:
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    face = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    box = np.array([30, 20, 94, 84])
    pasted = paste_face(frame, face, box)
    outside = np.ones(frame.shape[:2], bool)
    outside[20:84, 30:94] = False
    np.testing.assert_array_equal(pasted[outside], frame[outside])
    # 1:1 resize; the feather (8 px band, two 17 px blurs) ends 24 px inside the box
    np.testing.assert_array_equal(pasted[44:60, 54:70], face[24:40, 24:40])


def test_sides_on_the_frame_border_are_not_feathered() -> None:
    frame = np.zeros((80, 80, 3), dtype=np.uint8)
    face = np.full((40, 40, 3), 200, dtype=np.uint8)
    pasted = paste_face(frame, face, np.array([0, 0, 40, 40]))
    assert np.all(pasted[0, :16] == 200) and np.all(pasted[:16, 0] == 200)  # top and left
    assert pasted[39, 20, 0] < 100 and pasted[20, 39, 0] < 100  # bottom/right: mostly original


def test_blur_size_fits_small_images() -> None:
    assert normalize_blend_edge(33, 128, 128) == 33
    assert normalize_blend_edge(33, 64, 64) == 31
    assert normalize_blend_edge(16, 128, 128) == 17
    assert normalize_blend_edge(17, 6, 6) == 1
    assert normalize_blend_edge(17, 1, 1) == 1


def test_masks_are_cached_read_only() -> None:
    mask = blurred_border_mask(32, 32, (4, 4, 4, 4), 9)
    assert blurred_border_mask(32, 32, (4, 4, 4, 4), 9) is mask
    with pytest.raises(ValueError):
        mask[0, 0] = 0


def test_mismatched_crops_are_rejected() -> None:
    with pytest.raises(MediaError, match="differ in shape"):
        blend_border(np.zeros((64, 64, 3), np.uint8), np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(MediaError, match="uint8"):
        paste_face(np.zeros((64, 64, 3), np.uint8), np.zeros((8, 8, 3)), np.array([0, 0, 8, 8]))
