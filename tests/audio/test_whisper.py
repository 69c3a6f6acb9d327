"""OpenAI -> transformers Whisper conversion and X-Dub's encoder features, on tiny checkpoints.

The expected values come from an independent plain-torch implementation of OpenAI's
``AudioEncoder`` forward (``whisper/model.py``) that reads the OpenAI-keyed tensors directly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor
from transformers import WhisperModel
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from xdub.audio.mel import log_mel_spectrogram
from xdub.audio.tiny import write_tiny_openai_whisper
from xdub.audio.whisper import (
    Fp32LayerNorm,
    WhisperFeatureEncoder,
    convert_openai_encoder,
    load_whisper_encoder,
    openai_to_hf_keys,
    whisper_config_from_dims,
)
from xdub.errors import ModelError

# Small enough for the CPU, big enough for several heads and chunks: 2 * 50 = 100 mel frames
# (1 s) per encoder chunk.
TINY = {"width": 64, "heads": 4, "layers": 2, "n_audio_ctx": 50}


def openai_encoder_reference(
    state: dict[str, Tensor], num_heads: int, mel: Tensor, *, dtype: torch.dtype
) -> tuple[Tensor, Tensor]:
    """OpenAI ``AudioEncoder`` math with the reference's dtype handling.

    ``mel``: (B, n_mels, 2 * n_ctx). Returns (last block output, ``ln_post`` output), both
    (B, n_ctx, width) in ``dtype``. Weights are cast to the input dtype at each use (the fork's
    ``Linear``/``Conv1d``), LayerNorm and softmax run in fp32, as in ``whisper/model.py``.
    """
    w = {
        k.removeprefix("encoder."): v.float() for k, v in state.items() if k.startswith("encoder.")
    }

    def linear(x: Tensor, name: str, has_bias: bool = True) -> Tensor:
        bias = w[f"{name}.bias"].to(x.dtype) if has_bias else None
        return F.linear(x, w[f"{name}.weight"].to(x.dtype), bias)

    def norm(x: Tensor, name: str) -> Tensor:
        weight, bias = w[f"{name}.weight"], w[f"{name}.bias"]
        return F.layer_norm(x.float(), weight.shape, weight, bias, eps=1e-5).to(x.dtype)

    def conv(x: Tensor, name: str, stride: int) -> Tensor:
        weight, bias = w[f"{name}.weight"].to(x.dtype), w[f"{name}.bias"].to(x.dtype)
        return F.conv1d(x, weight, bias, stride=stride, padding=1)

    x = F.gelu(conv(mel.to(dtype), "conv1", 1))
    x = F.gelu(conv(x, "conv2", 2)).permute(0, 2, 1)
    x = (x + w["positional_embedding"]).to(dtype)
    batch, n_ctx, width = x.shape
    scale = (width // num_heads) ** -0.25
    layer = 0
    while f"blocks.{layer}.attn_ln.weight" in w:
        block = f"blocks.{layer}"
        h = norm(x, f"{block}.attn_ln")
        q = linear(h, f"{block}.attn.query").view(batch, n_ctx, num_heads, -1).transpose(1, 2)
        k = linear(h, f"{block}.attn.key", has_bias=False).view(batch, n_ctx, num_heads, -1)
        v = linear(h, f"{block}.attn.value").view(batch, n_ctx, num_heads, -1).transpose(1, 2)
        logits = (q * scale) @ (k.permute(0, 2, 3, 1) * scale)
        weights = F.softmax(logits.float(), dim=-1).to(dtype)
        x = x + linear((weights @ v).transpose(1, 2).flatten(2), f"{block}.attn.out")
        h = norm(x, f"{block}.mlp_ln")
        x = x + linear(F.gelu(linear(h, f"{block}.mlp.0")), f"{block}.mlp.2")
        layer += 1
    return x, norm(x, "ln_post")


def reference_features(state: dict[str, Tensor], dims: dict[str, int], mel: Tensor) -> Tensor:
    """X-Dub's ``transcribe`` + ``_audio2feat`` procedure, fp32: chunk, pad, encode, trim."""
    chunk = 2 * dims["n_audio_ctx"]
    pieces = []
    for start in range(0, mel.shape[1], chunk):
        end = min(start + chunk, mel.shape[1])
        padded = F.pad(mel[:, start:end], (0, chunk - (end - start)))
        hidden, _ = openai_encoder_reference(
            state, dims["n_audio_head"], padded[None], dtype=torch.float32
        )
        pieces.append(hidden[0, : int((end - start) / 2)])
    return torch.cat(pieces)


@pytest.fixture(scope="module")
def tiny_pt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("whisper") / "large-v2.pt"
    return write_tiny_openai_whisper(path, seed=11, **TINY)


@pytest.fixture(scope="module")
def checkpoint(tiny_pt: Path) -> dict:
    return torch.load(tiny_pt, weights_only=True)


def random_mel(dims: dict[str, int], seed: int) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(1, dims["n_mels"], 2 * dims["n_audio_ctx"], generator=generator) * 0.6


def test_key_mapping_covers_exactly_the_transformers_encoder(checkpoint: dict) -> None:
    config = whisper_config_from_dims(checkpoint["dims"])
    with torch.device("meta"):
        expected = set(WhisperEncoder(config).state_dict())
    mapping = openai_to_hf_keys(config.encoder_layers)
    assert set(mapping.values()) == expected
    converted = convert_openai_encoder(checkpoint["model_state_dict"], config.encoder_layers)
    assert set(converted) == expected  # every decoder.* tensor of the file was dropped
    assert any(k.startswith("decoder.") for k in checkpoint["model_state_dict"])


def test_converted_encoder_matches_openai_math(tiny_pt: Path, checkpoint: dict) -> None:
    dims, state = checkpoint["dims"], checkpoint["model_state_dict"]
    mel = random_mel(dims, seed=5)
    expected_blocks, expected_post = openai_encoder_reference(
        state, dims["n_audio_head"], mel, dtype=torch.float32
    )
    encoder = load_whisper_encoder(tiny_pt)
    with torch.no_grad():
        full = encoder(mel).last_hidden_state
    # fp32 rounding only: transformers scales q by d**-0.5 where OpenAI scales q and k by
    # d**-0.25 each, and SDPA sums in another order; measured max 1.9e-6 on values up to ~6.
    torch.testing.assert_close(full, expected_post, rtol=0, atol=2e-5)
    features = WhisperFeatureEncoder(encoder)
    with torch.no_grad():
        pre_norm = features.encoder(mel).last_hidden_state
    torch.testing.assert_close(pre_norm, expected_blocks, rtol=0, atol=2e-5)  # same as above
    assert not torch.allclose(pre_norm, expected_post, atol=1e-2)  # ln_post really is gone


def test_features_chunk_pad_and_trim_like_reference(tiny_pt: Path, checkpoint: dict) -> None:
    dims, state = checkpoint["dims"], checkpoint["model_state_dict"]
    rng = np.random.default_rng(3)
    chunk_samples = 2 * dims["n_audio_ctx"] * 160
    num_samples = int(2.37 * chunk_samples) + 77  # two full chunks and an odd-length tail
    samples = (0.3 * rng.standard_normal(num_samples)).astype(np.float32)
    mel = log_mel_spectrogram(samples, n_mels=dims["n_mels"])
    assert mel.shape[1] % 2 == 1  # the tail chunk has odd length: floor matters
    features = WhisperFeatureEncoder.load(tiny_pt).encode(mel)
    assert features.shape == (mel.shape[1] // 2, dims["n_audio_state"])
    assert features.dtype == torch.float32
    expected = reference_features(state, dims, mel)
    torch.testing.assert_close(features, expected, rtol=0, atol=2e-5)  # fp32 order, as above


def test_fp16_keeps_layer_norms_fp32_and_stays_close_to_reference_fp16(
    tiny_pt: Path, checkpoint: dict
) -> None:
    dims, state = checkpoint["dims"], checkpoint["model_state_dict"]
    mel = random_mel(dims, seed=6)
    half = WhisperFeatureEncoder.load(tiny_pt, dtype=torch.float16)
    norms = [m for m in half.encoder.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert norms and all(type(m) is Fp32LayerNorm for m in norms)
    assert all(m.weight.dtype == torch.float32 for m in norms)
    assert half.encoder.layers[0].fc1.weight.dtype == torch.float16
    with torch.no_grad():
        ours = half.encoder(mel.half()).last_hidden_state.float()
    reference16, _ = openai_encoder_reference(state, dims["n_audio_head"], mel, dtype=torch.float16)
    exact, _ = openai_encoder_reference(state, dims["n_audio_head"], mel, dtype=torch.float32)
    reference_error = (reference16.float() - exact).abs().max().item()
    # Both run in fp16 with different rounding points (SDPA keeps the logits in fp32; scaling
    # order), so they differ by about the reference's own fp16 error (measured: 1-2 fp16 ulps,
    # max 0.004-0.008 on values up to ~6), and ours is no less accurate than the reference.
    assert (ours - reference16.float()).abs().max().item() <= 3.0 * reference_error
    assert (ours - exact).abs().max().item() <= 1.5 * reference_error


def test_transformers_folder_loads_the_same_encoder(
    tiny_pt: Path, checkpoint: dict, tmp_path: Path
) -> None:
    dims = checkpoint["dims"]
    config = whisper_config_from_dims(dims)
    config.update({"decoder_layers": 1, "decoder_attention_heads": 2, "decoder_ffn_dim": 64})
    model = WhisperModel(config)
    converted = convert_openai_encoder(checkpoint["model_state_dict"], config.encoder_layers)
    model.encoder.load_state_dict(converted, strict=True)
    model.save_pretrained(tmp_path / "whisper-hf")
    mel = random_mel(dims, seed=7)
    with torch.no_grad():
        from_folder = load_whisper_encoder(tmp_path / "whisper-hf")(mel).last_hidden_state
        from_pt = load_whisper_encoder(tiny_pt)(mel).last_hidden_state
    torch.testing.assert_close(from_folder, from_pt, rtol=0, atol=0)  # same fp32 weights


def test_missing_encoder_tensor_is_named(checkpoint: dict, tmp_path: Path) -> None:
    state = dict(checkpoint["model_state_dict"])
    del state["encoder.blocks.1.mlp_ln.bias"]
    path = tmp_path / "broken.pt"
    torch.save({"dims": checkpoint["dims"], "model_state_dict": state}, path)
    with pytest.raises(ModelError, match=r"missing encoder\.blocks\.1\.mlp_ln\.bias"):
        load_whisper_encoder(path)


def test_mismatched_shape_is_named_as_in_the_file(checkpoint: dict, tmp_path: Path) -> None:
    state = dict(checkpoint["model_state_dict"])
    fc1 = state["encoder.blocks.0.mlp.0.weight"]
    state["encoder.blocks.0.mlp.0.weight"] = fc1[:-1]
    path = tmp_path / "wrong.pt"
    torch.save({"dims": checkpoint["dims"], "model_state_dict": state}, path)
    expected_shape = list(fc1.shape)
    with pytest.raises(
        ModelError,
        match=rf"encoder\.blocks\.0\.mlp\.0\.weight has shape .*"
        rf"expected \[{expected_shape[0]}, {expected_shape[1]}\]",
    ):
        load_whisper_encoder(path)


def test_unusable_files_raise_model_error(checkpoint: dict, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        load_whisper_encoder(tmp_path / "absent.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint" * 64)
    with pytest.raises(ModelError, match="unreadable"):
        load_whisper_encoder(garbage)
    no_dims = tmp_path / "no_dims.pt"
    torch.save({"model_state_dict": checkpoint["model_state_dict"]}, no_dims)
    with pytest.raises(ModelError, match="need 'dims'"):
        load_whisper_encoder(no_dims)
    bad_dims = tmp_path / "bad_dims.pt"
    dims = {k: v for k, v in checkpoint["dims"].items() if k != "n_audio_head"}
    torch.save({"dims": dims, "model_state_dict": checkpoint["model_state_dict"]}, bad_dims)
    with pytest.raises(ModelError, match="n_audio_head"):
        load_whisper_encoder(bad_dims)


def test_tiny_writer_is_seeded_and_stores_fp16_like_large_v2(tmp_path: Path) -> None:
    def tensors(name: str, seed: int) -> dict[str, Tensor]:
        path = write_tiny_openai_whisper(tmp_path / name, seed=seed, **TINY)
        return torch.load(path, weights_only=True)["model_state_dict"]

    a, b, c = tensors("a.pt", 1), tensors("b.pt", 1), tensors("c.pt", 2)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["encoder.conv1.weight"], c["encoder.conv1.weight"])
    assert {t.dtype for t in a.values()} == {torch.float16}
