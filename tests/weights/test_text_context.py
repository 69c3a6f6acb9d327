"""The cached umt5 context of the empty prompt, on a tiny encoder and tokenizer."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from diffsynth.models.wan_video_text_encoder import WanTextEncoder
from safetensors.torch import load_file

from xdub.errors import ModelError
from xdub.weights.text_config import TEXT_CONTEXT_FILE, TEXT_LENGTH, Umt5Config
from xdub.weights.text_context import (
    compute_text_context,
    load_text_context,
    save_text_context,
    tokenize_prompt,
)
from xdub.weights.tiny import TOKENIZER_SPECIAL, write_tiny_tokenizer, write_tiny_umt5

EOS_ID = TOKENIZER_SPECIAL.index("</s>")
CONFIG = Umt5Config.tiny_for_tests(text_dim=24, vocab=16)


@pytest.fixture()
def tiny_umt5(tmp_path: Path) -> tuple[Path, Path]:
    tokenizer_dir = write_tiny_tokenizer(tmp_path / "umt5-xxl")
    encoder_path = tmp_path / "umt5.safetensors"
    write_tiny_umt5(encoder_path, CONFIG, seed=3)
    return tokenizer_dir, encoder_path


def test_empty_prompt_tokenises_to_eos_then_padding(tiny_umt5: tuple[Path, Path]) -> None:
    ids, mask = tokenize_prompt(tiny_umt5[0])
    assert ids.shape == mask.shape == (1, TEXT_LENGTH)
    assert ids[0, 0] == EOS_ID
    assert mask.sum() == 1


def test_context_is_the_encoder_output_with_padding_rows_zeroed(
    tiny_umt5: tuple[Path, Path],
) -> None:
    tokenizer_dir, encoder_path = tiny_umt5
    context = compute_text_context(tokenizer_dir, encoder_path, "cpu", torch.float32, config=CONFIG)

    reference = WanTextEncoder(**dataclasses.asdict(CONFIG)).eval()
    reference.load_state_dict(load_file(encoder_path), strict=True)
    ids, mask = tokenize_prompt(tokenizer_dir)
    with torch.no_grad():
        expected = reference(ids, mask)
    expected[:, int(mask.sum()) :] = 0

    assert context.shape == (1, TEXT_LENGTH, CONFIG.dim)
    torch.testing.assert_close(context, expected, rtol=0, atol=0)
    assert context[0, 0].abs().sum() > 0
    assert not context[0, 1:].any()


def test_context_is_computed_in_the_requested_dtype(tiny_umt5: tuple[Path, Path]) -> None:
    context = compute_text_context(*tiny_umt5, "cpu", torch.bfloat16, config=CONFIG)
    assert context.dtype == torch.bfloat16


def test_saved_context_loads_back_unchanged(tiny_umt5: tuple[Path, Path], tmp_path: Path) -> None:
    context = compute_text_context(*tiny_umt5, "cpu", torch.float32, config=CONFIG)
    save_text_context(context, tmp_path / TEXT_CONTEXT_FILE, encoder_file="umt5.safetensors")
    torch.testing.assert_close(load_text_context(tmp_path), context, rtol=0, atol=0)


def test_missing_context_names_the_file_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=TEXT_CONTEXT_FILE) as caught:
        load_text_context(tmp_path)
    assert caught.value.code == "model_missing"
    assert caught.value.hint is not None and "prepare-context" in caught.value.hint


def test_encoder_of_another_width_is_refused_by_name(tiny_umt5: tuple[Path, Path]) -> None:
    wider = dataclasses.replace(CONFIG, dim_ffn=CONFIG.dim_ffn + 8)
    with pytest.raises(ModelError, match=r"umt5.safetensors: blocks\.0\.ffn\.fc1\.weight has"):
        compute_text_context(*tiny_umt5, "cpu", torch.float32, config=wider)
