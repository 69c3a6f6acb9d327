"""Whisper's log-mel spectrogram, normalised over the whole file as X-Dub does (reference §2.6).

OpenAI whisper (`whisper/audio.py`): 16 kHz mono, Hann-windowed STFT (n_fft 400, hop 160, centred,
reflect-padded), |STFT|², last frame dropped, slaney mel filters, log10 clamped at 1e-10, then
clamped to ``max - 8`` where the max is taken over the **entire file** (not per 30 s chunk), then
``(x + 4) / 4``. The filters come from transformers' ``mel_filter_bank`` (librosa's slaney filters,
which OpenAI ships as ``mel_filters.npz``; they agree to 1 float32 ulp), so nothing is downloaded.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from transformers.audio_utils import mel_filter_bank

from xdub.errors import MediaError

SAMPLE_RATE_HZ = 16000
N_FFT = 400
HOP_SAMPLES = 160
N_MELS = 80
LOG_FLOOR = 1e-10
DYNAMIC_RANGE_LOG10 = 8.0
# The centred STFT reflect-pads by N_FFT // 2, which needs more samples than that; wav2vec2's
# convolutional front end needs one 400-sample receptive field. 25 ms is the shortest usable clip.
MIN_SAMPLES = N_FFT


@lru_cache(maxsize=4)
def mel_filters(n_mels: int = N_MELS) -> torch.Tensor:
    """Slaney mel filter bank; (n_mels, N_FFT // 2 + 1) float32, 0..8 kHz at 16 kHz."""
    bank = mel_filter_bank(
        num_frequency_bins=N_FFT // 2 + 1,
        num_mel_filters=n_mels,
        min_frequency=0.0,
        max_frequency=SAMPLE_RATE_HZ / 2,
        sampling_rate=SAMPLE_RATE_HZ,
        norm="slaney",
        mel_scale="slaney",
    )
    return torch.from_numpy(np.ascontiguousarray(bank.T, dtype=np.float32))


def check_samples(samples_16k: np.ndarray) -> np.ndarray:
    """Validate a 16 kHz mono waveform; returns it as a contiguous (N,) float32 array."""
    samples = np.asarray(samples_16k)
    if samples.ndim != 1:
        raise MediaError(
            f"audio must be mono samples of shape (N,), got shape {samples.shape}",
            hint="downmix to mono and resample to 16 kHz before encoding",
        )
    if not np.issubdtype(samples.dtype, np.floating):
        raise MediaError(
            f"audio samples must be floating point in [-1, 1], got dtype {samples.dtype}",
            hint="divide int16 PCM by 32768",
        )
    if samples.shape[0] < MIN_SAMPLES:
        raise MediaError(
            f"audio is too short: {samples.shape[0]} samples at 16 kHz, need at least {MIN_SAMPLES}"
        )
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if not np.isfinite(samples).all():
        raise MediaError("audio samples contain NaN or infinity")
    return samples


def log_mel_spectrogram(samples_16k: np.ndarray, n_mels: int = N_MELS) -> torch.Tensor:
    """Normalised log-mel of a whole file; (n_mels, N // 160) float32 on the CPU, 100 frames/s.

    ``samples_16k``: (N,) float waveform at 16 kHz in [-1, 1].
    """
    audio = torch.from_numpy(check_samples(samples_16k))
    window = torch.hann_window(N_FFT)
    stft = torch.stft(audio, N_FFT, HOP_SAMPLES, window=window, return_complex=True)
    power = stft[:, :-1].abs() ** 2
    log_spec = torch.clamp(mel_filters(n_mels) @ power, min=LOG_FLOOR).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - DYNAMIC_RANGE_LOG10)
    return (log_spec + 4.0) / 4.0
