"""MFCCs as SyncNet's evaluation computes them (``python_speech_features.mfcc`` defaults).

13 cepstra per 10 ms step over 25 ms rectangular frames of 16-bit-scaled audio: pre-emphasis
0.97, 512-point power spectrum, 26 mel filters from 0 Hz to Nyquist, log, DCT-II (orthonormal),
lifter 22, and the first coefficient replaced by the log frame energy.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.fft import dct

NUM_CEPSTRA = 13
NUM_FILTERS = 26
WINDOW_S = 0.025
STEP_S = 0.01
NFFT = 512
PREEMPHASIS = 0.97
LIFTER = 22
INT16_SCALE = 32768.0
"""SyncNet reads 16-bit PCM as integers; float audio is scaled to that range."""


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(sample_rate_hz: int) -> np.ndarray:
    """``(NUM_FILTERS, NFFT // 2 + 1)`` triangular filters on FFT bins."""
    mels = np.linspace(_hz_to_mel(0.0), _hz_to_mel(sample_rate_hz / 2), NUM_FILTERS + 2)
    bins = np.floor((NFFT + 1) * _mel_to_hz(mels) / sample_rate_hz).astype(np.int64)
    bank = np.zeros((NUM_FILTERS, NFFT // 2 + 1))
    for j in range(NUM_FILTERS):
        left, centre, right = bins[j], bins[j + 1], bins[j + 2]
        for i in range(left, centre):
            bank[j, i] = (i - left) / (centre - left)
        for i in range(centre, right):
            bank[j, i] = (right - i) / (right - centre)
    return bank


def mfcc(samples: np.ndarray, sample_rate_hz: int = 16000) -> np.ndarray:
    """``(N,)`` float mono audio (full scale 1.0) -> ``(13, M)`` float64, M frames at 100 Hz."""
    signal = np.asarray(samples, dtype=np.float64) * INT16_SCALE
    signal = np.append(signal[:1], signal[1:] - PREEMPHASIS * signal[:-1])
    window = round(WINDOW_S * sample_rate_hz)
    step = round(STEP_S * sample_rate_hz)
    num_frames = 1 if len(signal) <= window else 1 + math.ceil((len(signal) - window) / step)
    padded = np.zeros((num_frames - 1) * step + window)
    padded[: len(signal)] = signal
    index = np.arange(window)[None, :] + step * np.arange(num_frames)[:, None]
    frames = padded[index]
    power = np.abs(np.fft.rfft(frames, NFFT)) ** 2 / NFFT
    energy = power.sum(axis=1)
    energy = np.where(energy == 0, np.finfo(float).eps, energy)
    features = power @ mel_filterbank(sample_rate_hz).T
    features = np.where(features == 0, np.finfo(float).eps, features)
    cepstra = dct(np.log(features), type=2, axis=1, norm="ortho")[:, :NUM_CEPSTRA]
    lift = 1 + (LIFTER / 2.0) * np.sin(np.pi * np.arange(NUM_CEPSTRA) / LIFTER)
    cepstra = cepstra * lift
    cepstra[:, 0] = np.log(energy)
    return cepstra.T
