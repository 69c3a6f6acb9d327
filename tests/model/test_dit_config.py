"""DiTConfig: released values, JSON round trip, reference kwargs, validation."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from xdub.errors import ModelError
from xdub.model.config import AudioProjConfig, DiTConfig


def test_x_dub_is_the_released_model() -> None:
    config = DiTConfig.x_dub()
    assert (config.dim, config.ffn_dim, config.num_heads, config.num_blocks) == (
        3072,
        14336,
        24,
        30,
    )
    assert (config.in_dim, config.out_dim, config.text_dim, config.freq_dim) == (48, 48, 4096, 256)
    assert (config.patch, config.eps, config.head_dim) == ((1, 2, 2), 1e-6, 128)
    audio = config.audio
    assert (audio.in_dim, audio.intermediate_dim, audio.out_dim) == (2048, 1536, 3072)
    assert (audio.num_layers, audio.num_heads, audio.head_dim, audio.max_seq_len) == (
        4,
        24,
        64,
        100,
    )


@pytest.mark.parametrize("config", [DiTConfig.x_dub(), DiTConfig.tiny_for_tests()])
def test_json_round_trip(config: DiTConfig) -> None:
    text = config.to_json()
    assert DiTConfig.from_json(text) == config
    assert json.loads(text)["audio"]["out_dim"] == config.dim


def test_from_reference_kwargs_reads_the_golden_config(golden_dir: Path) -> None:
    reference = json.loads((golden_dir / "tiny_dit_config.json").read_text())
    config = DiTConfig.from_reference_kwargs(reference)
    model_kwargs, audio_kwargs = (
        reference["LipSyncModel_kwargs"],
        reference["AudioProjModule_kwargs"],
    )
    assert config.dim == model_kwargs["dim"]
    assert config.num_blocks == model_kwargs["num_layers"]
    assert config.patch == tuple(model_kwargs["patch_size"])
    assert config.head_dim == reference["head_dim"]
    assert config.audio.in_dim == sum(
        n * c
        for n, c in zip(
            audio_kwargs["audio_feat_layers"], audio_kwargs["audio_feat_channels"], strict=True
        )
    )
    assert config.audio.intermediate_dim == audio_kwargs["intermediate_dim"]
    assert config.audio.num_heads == audio_kwargs["attn_num_heads"]
    # Bare LipSyncModel kwargs mean the hard-coded (released) AudioProjModule.
    bare = DiTConfig.from_reference_kwargs({**model_kwargs, "dim": 3072, "num_heads": 24})
    assert bare.audio == AudioProjConfig()


def test_unsupported_reference_flags_are_rejected(golden_dir: Path) -> None:
    reference = json.loads((golden_dir / "tiny_dit_config.json").read_text())
    kwargs = {**reference["LipSyncModel_kwargs"], "audio_inject_layers_mode": "even"}
    with pytest.raises(ModelError, match="audio_inject_layers_mode"):
        DiTConfig.from_reference_kwargs(kwargs)
    audio_kwargs = {**reference["AudioProjModule_kwargs"], "use_attn": False}
    with pytest.raises(ModelError, match="use_attn"):
        DiTConfig.from_reference_kwargs({**reference, "AudioProjModule_kwargs": audio_kwargs})
    with pytest.raises(ModelError, match="lack 'ffn_dim'"):
        DiTConfig.from_reference_kwargs({"dim": 64})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"num_heads": 5}, "not divisible"),
        ({"dim": 32, "num_heads": 2}, "RoPE"),  # head_dim 16: 16 // 3 = 5 is odd
        ({"dim": 96, "num_heads": 2}, "audio.out_dim"),
        ({"patch": (2, 2, 2)}, "patch"),
    ],
)
def test_invalid_configs_raise_model_error(change: dict[str, object], message: str) -> None:
    with pytest.raises(ModelError, match=message):
        dataclasses.replace(DiTConfig.tiny_for_tests(), **change)


def test_bad_json_raises_model_error() -> None:
    with pytest.raises(ModelError, match="invalid DiT config JSON"):
        DiTConfig.from_json('{"dim": 64}')
