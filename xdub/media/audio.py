"""Audio input for the pipeline: decode any file's audio to 16 kHz mono, and fit its length.

``load_audio`` matches the reference loader (``ffmpeg -ac 1 -ar 16000 -f s16le``, then
/32768): PyAV's ``AudioResampler`` runs the same libswresample downmix and resampler with the
same defaults, and the result is quantised to 16-bit before becoming float32.
"""

from __future__ import annotations

import logging
from pathlib import Path

import av
import numpy as np

from xdub.errors import MediaError
from xdub.media.container import open_media

log = logging.getLogger(__name__)

MODEL_SAMPLE_RATE_HZ = 16000
S16_FULL_SCALE = 32768.0


def load_audio(path: Path, sample_rate_hz: int = MODEL_SAMPLE_RATE_HZ) -> np.ndarray:
    """Decode ``path``'s first audio stream (an audio file, or a video's track) to mono.

    Returns (N,) float32 in [-1, 1) at ``sample_rate_hz``, with 16-bit resolution. MediaError
    when there is no audio stream, it cannot be decoded, or it holds no samples.
    """
    path = Path(path)
    with open_media(path) as container:
        if not container.streams.audio:
            raise MediaError(
                f"{path}: no audio stream",
                code="no_audio",
                hint="choose a file with a dialogue track (WAV, M4A, or a video with sound)",
            )
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate_hz)
        chunks: list[np.ndarray] = []
        for frame in container.decode(stream):
            chunks.extend(out.to_ndarray()[0] for out in resampler.resample(frame))
        chunks.extend(out.to_ndarray()[0] for out in resampler.resample(None))
        stated_length = _stated_num_samples(stream, sample_rate_hz)
    if not chunks or sum(len(chunk) for chunk in chunks) == 0:
        raise MediaError(f"{path}: the audio stream holds no samples", code="empty_audio")
    # Codecs decode whole frames; like the ffmpeg CLI, drop the padding past the stated length.
    samples = np.concatenate(chunks)[:stated_length].astype(np.float32)
    samples /= np.float32(S16_FULL_SCALE)
    log.debug("loaded %s: %d samples at %d Hz", path, len(samples), sample_rate_hz)
    return samples


def _stated_num_samples(stream: av.audio.stream.AudioStream, sample_rate_hz: int) -> int | None:
    """The stream's length from the container, in samples at ``sample_rate_hz``, or None."""
    if stream.duration is None or stream.time_base is None:
        return None
    return round(stream.duration * stream.time_base * sample_rate_hz)


def fit_audio_length(samples: np.ndarray, num_samples: int) -> tuple[np.ndarray, bool]:
    """``samples`` (N,) trimmed or padded with silence to ``num_samples``.

    Returns (fitted (num_samples,) same dtype, was_changed); callers warn the user on True.
    """
    if num_samples < 0:
        raise ValueError(f"num_samples must be >= 0, got {num_samples}")
    if len(samples) == num_samples:
        return samples, False
    if len(samples) > num_samples:
        return samples[:num_samples], True
    padding = np.zeros(num_samples - len(samples), dtype=samples.dtype)
    return np.concatenate([samples, padding]), True
