"""AudioEncoder: both tiny encoders resident, one waveform in, Whisper + Wav2Vec2 features out."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from xdub.audio.features import (
    WAV2VEC2_IN_FOLDER,
    WHISPER_IN_FOLDER,
    AudioEncoder,
    AudioFeatures,
)
from xdub.audio.mel import log_mel_spectrogram
from xdub.audio.tiny import write_tiny_openai_whisper, write_tiny_wav2vec2
from xdub.audio.wav2vec import Wav2Vec2FeatureEncoder
from xdub.audio.whisper import WhisperFeatureEncoder
from xdub.errors import MediaError

WHISPER_WIDTH = 40
WAV2VEC_WIDTH = 24


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    write_tiny_openai_whisper(
        folder / WHISPER_IN_FOLDER, seed=31, width=WHISPER_WIDTH, heads=2, n_audio_ctx=100
    )
    write_tiny_wav2vec2(folder / WAV2VEC2_IN_FOLDER, seed=32, width=WAV2VEC_WIDTH)
    return folder


@pytest.fixture(scope="module")
def encoder(model_folder: Path) -> AudioEncoder:
    return AudioEncoder.from_model_folder(model_folder)


def chirp(duration_s: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * 16000)) / 16000
    sweep = np.sin(2 * np.pi * (150 + 400 * t) * t)
    return (0.3 * sweep + 0.02 * rng.standard_normal(t.shape)).astype(np.float32)


def test_encode_gives_both_streams_at_50_hz(encoder: AudioEncoder, model_folder: Path) -> None:
    samples = chirp(4.56, seed=1)  # several 2 s tiny-Whisper chunks and a partial one
    features = encoder.encode(samples)
    n = samples.shape[0]
    assert features.whisper.shape == (n // 320, WHISPER_WIDTH)
    assert features.wav2vec.shape == ((n - 80) // 320, WAV2VEC_WIDTH)
    assert features.whisper.dtype == features.wav2vec.dtype == torch.float32
    # Exactly the two encoders run on their own (same fp32 CPU kernels, same inputs).
    whisper = WhisperFeatureEncoder.load(model_folder / WHISPER_IN_FOLDER)
    wav2vec = Wav2Vec2FeatureEncoder.load(model_folder / WAV2VEC2_IN_FOLDER)
    torch.testing.assert_close(
        features.whisper, whisper.encode(log_mel_spectrogram(samples)), rtol=0, atol=0
    )
    torch.testing.assert_close(features.wav2vec, wav2vec.encode(samples), rtol=0, atol=0)


def test_models_stay_resident_between_takes(encoder: AudioEncoder) -> None:
    whisper_module, wav2vec_module = encoder.whisper.encoder, encoder.wav2vec.model
    first = encoder.encode(chirp(1.0, seed=2))
    second = encoder.encode(chirp(2.5, seed=3))
    assert first.whisper.shape[0] == 50 and second.whisper.shape[0] == 125
    assert encoder.whisper.encoder is whisper_module and encoder.wav2vec.model is wav2vec_module
    again = encoder.encode(chirp(1.0, seed=2))
    torch.testing.assert_close(again.whisper, first.whisper, rtol=0, atol=0)


def test_cpu_runs_whisper_in_fp32(encoder: AudioEncoder) -> None:
    assert encoder.whisper.dtype == torch.float32
    assert encoder.wav2vec.model.dtype == torch.float32


def test_identity_follows_weights_and_settings(model_folder: Path, tmp_path: Path) -> None:
    whisper, wav2vec = model_folder / WHISPER_IN_FOLDER, model_folder / WAV2VEC2_IN_FOLDER
    identity = AudioEncoder(whisper, wav2vec).identity
    assert AudioEncoder(whisper, wav2vec).identity == identity
    assert AudioEncoder(whisper, wav2vec, whisper_dtype=torch.float16).identity != identity
    other = write_tiny_openai_whisper(
        tmp_path / "large-v2.pt", seed=99, width=WHISPER_WIDTH, heads=2, n_audio_ctx=100
    )
    assert AudioEncoder(other, wav2vec).identity != identity
    stat = whisper.stat()
    os.utime(whisper, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # replaced in place
    try:
        assert AudioEncoder(whisper, wav2vec).identity != identity
    finally:
        os.utime(whisper, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_bad_input_is_a_media_error(encoder: AudioEncoder) -> None:
    with pytest.raises(MediaError, match="too short"):
        encoder.encode(np.zeros(100, np.float32))


def test_audio_features_must_be_2d_float32() -> None:
    with pytest.raises(ValueError, match="whisper"):
        AudioFeatures(whisper=torch.zeros(3, 1, 8), wav2vec=torch.zeros(3, 8))
    with pytest.raises(ValueError, match="wav2vec"):
        AudioFeatures(whisper=torch.zeros(3, 8), wav2vec=torch.zeros(3, 8, dtype=torch.float16))
