"""Colour correction against the reference ``utils.color_correction``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from xdub.sample.color import color_correction, match_mask


@pytest.fixture(scope="module")
def golden(golden_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(golden_dir / "color_correction.safetensors")


def test_mask_matches_the_reference(golden) -> None:
    mask = match_mask(golden["generated"], golden["source"])
    assert torch.equal(mask, golden["mask"].bool())


def test_output_is_exact_for_any_chunking(golden) -> None:
    num_frames = golden["generated"].shape[0]
    # A uint8 function of uint8 inputs with the reference's float32 reductions: exact.
    for chunk_frames in sorted({1, max(1, num_frames // 2), num_frames, 16}):
        out = color_correction(golden["generated"], golden["source"], chunk_frames=chunk_frames)
        assert out.dtype == torch.uint8
        assert torch.equal(out, golden["output"]), chunk_frames


def test_frames_with_an_empty_mask_are_unchanged(golden) -> None:
    generated, source = golden["generated"], golden["source"]
    empty = ~golden["mask"].bool().flatten(1).any(dim=1)
    out = color_correction(generated, source)
    assert torch.equal(out[empty], generated[empty])
    # Synthetic: every pixel differs by more than 0.07, so no frame has masked pixels.
    far_source = (generated.int() + 128).remainder(256).to(torch.uint8)
    assert not match_mask(generated, far_source).any()
    assert torch.equal(color_correction(generated, far_source), generated)


def test_mismatched_inputs_are_rejected(golden) -> None:
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        color_correction(golden["generated"], golden["source"][:, 1:])
    with pytest.raises(ValueError, match="uint8"):
        color_correction(golden["generated"].float(), golden["source"].float())
