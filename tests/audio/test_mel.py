"""Whisper log-mel as X-Dub computes it: whole-file normalisation, last frame dropped."""

from __future__ import annotations

import numpy as np
import pytest
from transformers.audio_utils import spectrogram, window_function

from xdub.audio.mel import HOP_SAMPLES, N_FFT, N_MELS, log_mel_spectrogram, mel_filters
from xdub.errors import MediaError

SAMPLE_RATE_HZ = 16000


def speech_like(duration_s: float, seed: int) -> np.ndarray:
    """(N,) float32: harmonics of a gliding pitch under a syllable envelope, plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    pitch_hz = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch_hz) / SAMPLE_RATE_HZ
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = np.clip(np.sin(2 * np.pi * 3.1 * t), 0, None)
    return (0.2 * envelope * voiced + 0.01 * rng.standard_normal(t.shape)).astype(np.float32)


def slaney_filters(n_mels: int) -> np.ndarray:
    """librosa's default mel filters (slaney scale, slaney area norm), from the formulas."""

    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        return np.where(
            f < 1000, 3 * f / 200, 15 + np.log(np.maximum(f, 1e-9) / 1000) * 27 / np.log(6.4)
        )

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        return np.where(m < 15, 200 * m / 3, 1000 * np.exp((m - 15) * np.log(6.4) / 27))

    fft_hz = np.linspace(0, SAMPLE_RATE_HZ / 2, N_FFT // 2 + 1)
    edges_hz = mel_to_hz(np.linspace(0, hz_to_mel(np.array(SAMPLE_RATE_HZ / 2.0)), n_mels + 2))
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (fft_hz - lower) / (centre - lower)
    falling = (upper - fft_hz) / (upper - centre)
    return np.maximum(0, np.minimum(rising, falling)) * (2 / (upper - lower))


def test_filters_are_librosa_slaney() -> None:
    filters = mel_filters(N_MELS).numpy()
    assert filters.shape == (N_MELS, N_FFT // 2 + 1)
    # float64 formulas vs the float32 bank: float32 rounding of values up to 0.026.
    np.testing.assert_allclose(filters, slaney_filters(N_MELS), rtol=0, atol=1e-8)


def test_matches_an_independent_numpy_stft() -> None:
    samples = speech_like(1.2345, seed=1)
    ours = log_mel_spectrogram(samples).numpy()
    power = spectrogram(
        samples,
        window_function(N_FFT, "hann"),
        frame_length=N_FFT,
        hop_length=HOP_SAMPLES,
        power=2.0,
        mel_filters=mel_filters(N_MELS).numpy().T.astype(np.float64),
        log_mel="log10",
        dtype=np.float64,
    )[:, :-1]
    expected = (np.maximum(power, power.max() - 8.0) + 4.0) / 4.0
    assert ours.shape == expected.shape == (N_MELS, samples.shape[0] // HOP_SAMPLES)
    # torch.stft in float32 vs numpy's float64 FFT: float32 rounding of the power spectrum,
    # relative ~1e-6, i.e. ~1e-6 in log10 units / 4 (measured max 2.8e-6 over three seeds).
    np.testing.assert_allclose(ours, expected, rtol=0, atol=2e-5)


@pytest.mark.parametrize("num_samples", [400, 401, 559, 560, 16000, 16159, 48000 + 17])
def test_frame_count_drops_the_last_stft_frame(num_samples: int) -> None:
    samples = speech_like(num_samples / SAMPLE_RATE_HZ, seed=2)
    mel = log_mel_spectrogram(samples)
    assert mel.shape == (N_MELS, num_samples // HOP_SAMPLES)
    assert str(mel.dtype) == "torch.float32"


def test_clamp_uses_the_whole_file_maximum() -> None:
    quiet = 1e-4 * speech_like(2.0, seed=3)
    loud = speech_like(2.0, seed=4)
    mel = log_mel_spectrogram(np.concatenate([quiet, loud]))
    # max - 8 in log10 units is max - 2 after (x + 4) / 4; the quiet half sits on that floor.
    floor = mel.max().item() - 2.0
    assert mel.min().item() == pytest.approx(floor, abs=1e-6)
    quiet_frames = mel[:, : quiet.shape[0] // HOP_SAMPLES - 2]
    assert (quiet_frames <= floor + 1e-6).float().mean().item() > 0.5
    alone = log_mel_spectrogram(quiet)
    assert alone.max().item() < mel.max().item() - 1.0  # its own max would clamp far lower


@pytest.mark.parametrize(
    ("samples", "message"),
    [
        (np.zeros((2, 16000), np.float32), "mono"),
        (np.zeros(16000, np.int16), "floating point"),
        (np.zeros(399, np.float32), "too short"),
        (np.full(16000, np.nan, np.float32), "NaN"),
    ],
)
def test_rejects_unusable_audio(samples: np.ndarray, message: str) -> None:
    with pytest.raises(MediaError, match=message):
        log_mel_spectrogram(samples)
