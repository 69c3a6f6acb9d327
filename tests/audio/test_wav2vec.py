"""Wav2Vec2 features: whole-waveform normalisation, one fp32 pass, last layer, local folder only."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import Wav2Vec2Model

from xdub.audio.tiny import write_tiny_wav2vec2
from xdub.audio.wav2vec import Wav2Vec2FeatureEncoder
from xdub.errors import MediaError, ModelError

SAMPLE_RATE_HZ = 16000


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_wav2vec2(tmp_path_factory.mktemp("w2v") / "wav2vec2-base-960h", seed=21)


def noisy_tone(num_samples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(num_samples) / SAMPLE_RATE_HZ
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) * np.clip(np.sin(2 * np.pi * 2.3 * t), 0, None)
    return (tone + 0.05 * rng.standard_normal(num_samples) + 0.02).astype(np.float32)


def test_features_are_the_last_hidden_state_of_the_normalised_waveform(tiny_folder: Path) -> None:
    samples = noisy_tone(2 * SAMPLE_RATE_HZ + 123, seed=1)
    features = Wav2Vec2FeatureEncoder.load(tiny_folder).encode(samples)
    # The reference procedure, written out: zero mean / unit variance over the whole waveform
    # (variance + 1e-7), one forward with all hidden states, keep the last one.
    x = samples.astype(np.float64)
    normalised = torch.from_numpy((x - x.mean()) / np.sqrt(x.var() + 1e-7)).float()[None]
    model = Wav2Vec2Model.from_pretrained(tiny_folder, local_files_only=True).eval()
    with torch.no_grad():
        hidden_states = model(normalised, output_hidden_states=True).hidden_states
    assert len(hidden_states) == model.config.num_hidden_layers + 1
    # Normalisation statistics in float32 (extractor) vs float64 (here): ~1e-7 relative input
    # differences, measured max 3.6e-6 at the output (values up to ~3).
    torch.testing.assert_close(features, hidden_states[-1][0], rtol=0, atol=1e-5)
    assert features.dtype == torch.float32


def test_normalisation_covers_the_whole_waveform(tiny_folder: Path) -> None:
    encoder = Wav2Vec2FeatureEncoder.load(tiny_folder)
    samples = noisy_tone(SAMPLE_RATE_HZ, seed=2)
    base = encoder.encode(samples)
    # Gain and DC offset vanish in whole-waveform normalisation; float32 statistics leave
    # rounding differences (measured max 2.3e-6).
    torch.testing.assert_close(encoder.encode(3.0 * samples - 0.1), base, rtol=0, atol=1e-4)
    # ... but a louder second half changes the first half's features, unlike per-chunk statistics.
    louder = samples.copy()
    louder[len(samples) // 2 :] *= 4.0
    first_half = base.shape[0] // 4
    assert not torch.allclose(encoder.encode(louder)[:first_half], base[:first_half], atol=1e-3)


@pytest.mark.parametrize("num_samples", [400, 719, 720, 16000, 16080, 3 * SAMPLE_RATE_HZ + 5])
def test_frame_count_is_that_of_the_base_strides(tiny_folder: Path, num_samples: int) -> None:
    features = Wav2Vec2FeatureEncoder.load(tiny_folder).encode(noisy_tone(num_samples, seed=3))
    assert features.shape[0] == (num_samples - 80) // 320  # 50 frames/s


def test_output_width_follows_the_folder(tmp_path: Path) -> None:
    folder = write_tiny_wav2vec2(tmp_path / "w", seed=4, width=48, heads=4)
    encoder = Wav2Vec2FeatureEncoder.load(folder)
    assert encoder.width == 48
    assert encoder.encode(noisy_tone(8000, seed=4)).shape == ((8000 - 80) // 320, 48)


def test_tiny_writer_is_deterministic(tmp_path: Path) -> None:
    a = load_file(write_tiny_wav2vec2(tmp_path / "a", seed=5) / "model.safetensors")
    b = load_file(write_tiny_wav2vec2(tmp_path / "b", seed=5) / "model.safetensors")
    c = load_file(write_tiny_wav2vec2(tmp_path / "c", seed=6) / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_missing_tensor_is_a_model_error(tiny_folder: Path, tmp_path: Path) -> None:
    broken = shutil.copytree(tiny_folder, tmp_path / "broken")
    tensors = load_file(broken / "model.safetensors")
    del tensors["encoder.layers.1.final_layer_norm.weight"]
    save_file(tensors, broken / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ModelError, match=r"missing encoder\.layers\.1\.final_layer_norm\.weight"):
        Wav2Vec2FeatureEncoder.load(broken)


def test_absent_or_incomplete_folders_are_model_errors(tiny_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="config.json"):
        Wav2Vec2FeatureEncoder.load(tmp_path / "nowhere")  # never falls back to the Hub
    no_extractor = shutil.copytree(tiny_folder, tmp_path / "no_extractor")
    (no_extractor / "preprocessor_config.json").unlink()
    with pytest.raises(ModelError, match="preprocessor_config.json"):
        Wav2Vec2FeatureEncoder.load(no_extractor)
    no_weights = shutil.copytree(tiny_folder, tmp_path / "no_weights")
    (no_weights / "model.safetensors").unlink()
    with pytest.raises(ModelError, match="could not be loaded"):
        Wav2Vec2FeatureEncoder.load(no_weights)


def test_rejects_stereo(tiny_folder: Path) -> None:
    with pytest.raises(MediaError, match="mono"):
        Wav2Vec2FeatureEncoder.load(tiny_folder).encode(np.zeros((16000, 2), np.float32))
