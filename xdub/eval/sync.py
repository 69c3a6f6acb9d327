"""The weight-free sync measure: the mouth opening cross-correlated with the speech envelope.

Both signals are sampled once per video frame. The best lag is the offset (in frames) at which
the audio envelope matches the mouth best; it is positive when the audio lags (the sound comes
after the mouth moves). The confidence is the correlation at the best lag minus the median
correlation over all lags, as SyncNet's confidence is the median distance minus the best one:
a clear peak scores high; silence, a still mouth or an unrelated mouth score near 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_OFFSET_FRAMES = 15
"""Lags searched either side of 0, as syncnet_python's ``vshift``."""
SILENCE_RMS = 1e-3
"""Speech whose loudest frame is below this RMS (full scale 1.0) counts as silence."""
STILL_MOUTH = 1e-4
"""A mouth whose opening varies by less than this (std, in eye distances) counts as still."""
LOCAL_WINDOW_FRAMES = 50
"""Length of the sliding windows of the over-time series (2 s at 25 fps)."""
LOCAL_HOP_FRAMES = 5


@dataclass(frozen=True)
class SyncEstimate:
    """Best lag and how clear it is. ``correlations (2K + 1,)``: Pearson r per lag -K..K."""

    offset_frames: int
    confidence: float
    correlations: np.ndarray

    @property
    def peak_correlation(self) -> float:
        return float(self.correlations.max()) if self.correlations.size else 0.0


def speech_envelope(samples: np.ndarray, sample_rate_hz: int, times_s: np.ndarray) -> np.ndarray:
    """RMS loudness around each frame time: ``(F,)`` float64, full scale 1.0.

    ``samples``: ``(N,)`` mono float audio; ``times_s``: ``(F,)`` frame start times in seconds.
    Each frame's window is centred on its time and as long as the median frame spacing.
    """
    times = np.asarray(times_s, dtype=np.float64)
    if times.size == 0:
        return np.zeros(0)
    spacing_s = float(np.median(np.diff(times))) if times.size > 1 else 0.04
    half = max(1, round(spacing_s * sample_rate_hz / 2))
    power = np.concatenate([[0.0], np.cumsum(np.asarray(samples, dtype=np.float64) ** 2)])
    centres = np.round(times * sample_rate_hz).astype(np.int64)
    lo = np.clip(centres - half, 0, len(samples))
    hi = np.clip(centres + half, 0, len(samples))
    count = np.maximum(hi - lo, 1)
    return np.sqrt((power[hi] - power[lo]) / count)


def estimate_offset(
    mouth_opening: np.ndarray, envelope: np.ndarray, max_offset_frames: int = MAX_OFFSET_FRAMES
) -> SyncEstimate:
    """Cross-correlate ``mouth_opening`` and ``envelope`` (both ``(F,)``, one value per frame).

    Returns offset 0 and confidence 0 for silence or a still mouth (nothing to align).
    """
    mouth = np.asarray(mouth_opening, dtype=np.float64)
    audio = np.asarray(envelope, dtype=np.float64)
    num_frames = min(len(mouth), len(audio))
    mouth, audio = mouth[:num_frames], audio[:num_frames]
    max_lag = min(max_offset_frames, max(0, num_frames - 4))
    is_silent = num_frames == 0 or float(audio.max(initial=0.0)) < SILENCE_RMS
    is_still = num_frames == 0 or float(mouth.std()) < STILL_MOUTH
    if is_silent or is_still:
        return SyncEstimate(0, 0.0, np.zeros(2 * max_lag + 1))
    lags = range(-max_lag, max_lag + 1)
    correlations = np.array([_pearson_at_lag(mouth, audio, lag) for lag in lags])
    best = int(np.argmax(correlations))
    confidence = float(correlations[best] - np.median(correlations))
    return SyncEstimate(best - max_lag, max(0.0, confidence), correlations)


def _pearson_at_lag(mouth: np.ndarray, audio: np.ndarray, lag: int) -> float:
    """r between ``mouth[t]`` and ``audio[t + lag]`` over the frames where both exist."""
    if lag >= 0:
        a, b = mouth[: len(mouth) - lag], audio[lag:]
    else:
        a, b = mouth[-lag:], audio[: len(audio) + lag]
    a, b = a - a.mean(), b - b.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


@dataclass(frozen=True)
class SyncSeries:
    """Sync over time: per sliding window its centre frame, best offset and confidence."""

    centre_frames: np.ndarray
    offset_frames: np.ndarray
    confidence: np.ndarray


def sync_over_time(
    mouth_opening: np.ndarray,
    envelope: np.ndarray,
    window_frames: int = LOCAL_WINDOW_FRAMES,
    hop_frames: int = LOCAL_HOP_FRAMES,
) -> SyncSeries:
    """``estimate_offset`` on sliding windows (for the report's plots); a short clip is one
    window. Lags are limited to a quarter of the window."""
    num_frames = min(len(mouth_opening), len(envelope))
    window = min(window_frames, num_frames)
    starts = list(range(0, max(1, num_frames - window + 1), hop_frames)) if window else []
    centres, offsets, confidences = [], [], []
    for start in starts:
        stop = start + window
        estimate = estimate_offset(
            mouth_opening[start:stop], envelope[start:stop], min(MAX_OFFSET_FRAMES, window // 4)
        )
        centres.append(start + window // 2)
        offsets.append(estimate.offset_frames)
        confidences.append(estimate.confidence)
    return SyncSeries(
        np.asarray(centres, dtype=np.int64),
        np.asarray(offsets, dtype=np.int64),
        np.asarray(confidences, dtype=np.float64),
    )
