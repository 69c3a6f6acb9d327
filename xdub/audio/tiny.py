"""Tiny, seeded random audio-encoder checkpoints in the released layouts. TEST WEIGHTS ONLY.

``xdub models make-tiny`` and the tests call these. A tiny DiT's AudioProj takes
``whisper width + wav2vec2 width`` input channels, so both widths are parameters (the released
models have 1280 and 768).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor
from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model

_WAV2VEC2_BASE_CONV_LAYERS = 7  # strides (5,2,2,2,2,2,2): 320 samples per frame, 50 Hz


def write_tiny_openai_whisper(
    path: Path,
    *,
    seed: int,
    n_mels: int = 80,
    width: int = 32,
    heads: int = 2,
    layers: int = 2,
    n_audio_ctx: int = 1500,
    text_layers: int = 1,
    n_vocab: int = 64,
    n_text_ctx: int = 16,
    dtype: torch.dtype = torch.float16,
) -> Path:
    """Write an OpenAI-format Whisper checkpoint (``{"dims", "model_state_dict"}``) to ``path``.

    The layout is OpenAI's ``Whisper`` module: ``encoder.*`` (conv1/conv2, sinusoidal
    ``positional_embedding``, ``blocks.i.{attn,attn_ln,mlp,mlp_ln}``, ``ln_post``) and a small
    ``decoder.*`` (token/positional embedding, blocks with cross-attention, ``ln``) that a loader
    must ignore. ``n_audio_ctx`` encoder positions take ``2 * n_audio_ctx`` mel frames per chunk
    (1500 / 3000 in every released model). Tensors are stored in ``dtype`` (fp16, like
    ``large-v2.pt``). Init: matrices N(0, 1/fan_in), norm weights 1 + 0.2 N(0,1), biases
    0.1 N(0,1), from ``torch.Generator().manual_seed(seed)``. Returns ``path``.
    """
    generator = torch.Generator().manual_seed(seed)
    shapes = {
        "encoder.conv1.weight": (width, n_mels, 3),
        "encoder.conv1.bias": (width,),
        "encoder.conv2.weight": (width, width, 3),
        "encoder.conv2.bias": (width,),
        **_block_shapes("encoder", layers, width, has_cross_attention=False),
        "encoder.ln_post.weight": (width,),
        "encoder.ln_post.bias": (width,),
        "decoder.token_embedding.weight": (n_vocab, width),
        "decoder.positional_embedding": (n_text_ctx, width),
        **_block_shapes("decoder", text_layers, width, has_cross_attention=True),
        "decoder.ln.weight": (width,),
        "decoder.ln.bias": (width,),
    }
    state = {name: _random_tensor(name, shape, generator) for name, shape in shapes.items()}
    state["encoder.positional_embedding"] = _sinusoids(n_audio_ctx, width)
    dims = {
        "n_mels": n_mels,
        "n_audio_ctx": n_audio_ctx,
        "n_audio_state": width,
        "n_audio_head": heads,
        "n_audio_layer": layers,
        "n_vocab": n_vocab,
        "n_text_ctx": n_text_ctx,
        "n_text_state": width,
        "n_text_head": heads,
        "n_text_layer": text_layers,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model_state = {name: tensor.to(dtype) for name, tensor in state.items()}
    torch.save({"dims": dims, "model_state_dict": model_state}, path)
    return path


def write_tiny_wav2vec2(
    folder: Path,
    *,
    seed: int,
    width: int = 32,
    layers: int = 2,
    heads: int = 2,
    conv_channels: int = 16,
) -> Path:
    """Write a tiny ``Wav2Vec2Model`` folder (config, model.safetensors, preprocessor config).

    Same structure as wav2vec2-base-960h (7 conv layers of stride 320 in all, so 50 frames/s,
    group-norm front end, post-LN encoder, whole-waveform normalisation) with ``conv_channels``
    conv channels, ``layers`` transformer layers of width ``width`` (the output width) and
    ``heads`` heads. transformers' own init, seeded with ``seed``. Returns ``folder``.
    """
    config = Wav2Vec2Config(
        hidden_size=width,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=4 * width,
        conv_dim=(conv_channels,) * _WAV2VEC2_BASE_CONV_LAYERS,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=heads,
        feat_extract_norm="group",
        do_stable_layer_norm=False,
        vocab_size=32,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Wav2Vec2Model(config)
    folder = Path(folder)
    model.save_pretrained(folder)
    extractor = Wav2Vec2FeatureExtractor(
        feature_size=1,
        sampling_rate=16000,
        padding_value=0.0,
        do_normalize=True,
        return_attention_mask=False,
    )
    extractor.save_pretrained(folder)
    return folder


def _block_shapes(
    prefix: str, layers: int, width: int, *, has_cross_attention: bool
) -> dict[str, tuple[int, ...]]:
    attentions = ("attn", "cross_attn") if has_cross_attention else ("attn",)
    shapes: dict[str, tuple[int, ...]] = {}
    for i in range(layers):
        block = f"{prefix}.blocks.{i}"
        for attn in attentions:
            for proj in ("query", "key", "value", "out"):
                shapes[f"{block}.{attn}.{proj}.weight"] = (width, width)
                if proj != "key":  # OpenAI's key projection has no bias
                    shapes[f"{block}.{attn}.{proj}.bias"] = (width,)
            shapes[f"{block}.{attn}_ln.weight"] = (width,)
            shapes[f"{block}.{attn}_ln.bias"] = (width,)
        shapes[f"{block}.mlp.0.weight"] = (4 * width, width)
        shapes[f"{block}.mlp.0.bias"] = (4 * width,)
        shapes[f"{block}.mlp.2.weight"] = (width, 4 * width)
        shapes[f"{block}.mlp.2.bias"] = (width,)
        shapes[f"{block}.mlp_ln.weight"] = (width,)
        shapes[f"{block}.mlp_ln.bias"] = (width,)
    return shapes


def _random_tensor(name: str, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
    noise = torch.randn(shape, generator=generator)
    if len(shape) >= 2:
        fan_in = math.prod(shape[1:])
        return noise / math.sqrt(fan_in)
    module = name.split(".")[-2]
    is_norm = module.endswith("_ln") or module in ("ln", "ln_post")
    return 1.0 + 0.2 * noise if is_norm and name.endswith(".weight") else 0.1 * noise


def _sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> Tensor:
    """OpenAI Whisper's fixed encoder position table; (length, channels), [sin | cos]."""
    increment = math.log(max_timescale) / (channels // 2 - 1)
    inv_timescales = torch.exp(-increment * torch.arange(channels // 2))
    scaled_time = torch.arange(length)[:, None] * inv_timescales[None, :]
    return torch.cat([torch.sin(scaled_time), torch.cos(scaled_time)], dim=1)
