"""Encode float audio chunks into a PyAV output: a stream of any container, or a whole file."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import cast

import av
import numpy as np
from av.audio.stream import AudioStream
from av.container import OutputContainer

from xdub.errors import MediaError

AUDIO_CODEC_BY_SUFFIX = {".wav": "pcm_s16le", ".m4a": "aac", ".mp4": "aac", ".mov": "aac"}
"""Codec used for each audio file type we write: WAV is 16-bit PCM, the MPEG-4 family AAC."""
AAC_BIT_RATE_BPS = 128_000
AAC_MAX_CHANNELS = 8


def channel_layout(num_channels: int) -> str:
    """FFmpeg's default layout name for ``num_channels`` (1 mono, 2 stereo, 6 5.1, ...)."""
    return av.AudioLayout(f"{num_channels}c").name


class AudioStreamWriter:
    """Adds one audio stream to an open output container and encodes (N, C) chunks into it.

    Chunks may have any length; PyAV regroups them into the codec's frame size. Call
    ``close()`` once after the last chunk to flush the encoder.
    """

    def __init__(
        self, container: OutputContainer, codec_name: str, sample_rate_hz: int, num_channels: int
    ) -> None:
        if codec_name == "aac" and num_channels > AAC_MAX_CHANNELS:
            raise MediaError(
                f"AAC holds at most {AAC_MAX_CHANNELS} channels, not {num_channels}",
                code="bad_audio_layout",
            )
        self._container = container
        self._stream = cast(
            AudioStream,
            container.add_stream(
                codec_name, rate=sample_rate_hz, layout=channel_layout(num_channels)
            ),
        )
        if codec_name == "aac":
            self._stream.bit_rate = AAC_BIT_RATE_BPS
        self._num_channels = num_channels
        self._sample_rate_hz = sample_rate_hz
        self._next_pts = 0

    @property
    def samples_written(self) -> int:
        """Samples per channel handed to the encoder so far."""
        return self._next_pts

    def write(self, samples: np.ndarray) -> None:
        """Encode ``samples``: (N, C) float32 in [-1, 1] (clipped), C = the stream's channels."""
        if samples.ndim != 2 or samples.shape[1] != self._num_channels:
            raise ValueError(f"expected (N, {self._num_channels}) samples, got {samples.shape}")
        if samples.shape[0] == 0:
            return
        planar = np.ascontiguousarray(np.clip(samples, -1.0, 1.0).T, dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(
            planar, format="fltp", layout=channel_layout(self._num_channels)
        )
        frame.sample_rate = self._sample_rate_hz
        frame.pts = self._next_pts
        self._next_pts += samples.shape[0]
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        """Flush the encoder's delayed packets into the container."""
        for packet in self._stream.encode(None):
            self._container.mux(packet)


def audio_codec_for(path: Path) -> str:
    """The codec we write for ``path``'s suffix; MediaError for an unsupported type."""
    codec = AUDIO_CODEC_BY_SUFFIX.get(path.suffix.lower())
    if codec is None:
        raise MediaError(
            f"cannot write audio to {path}: unsupported file type {path.suffix!r}",
            code="bad_audio_path",
            hint=f"use one of {', '.join(AUDIO_CODEC_BY_SUFFIX)}",
        )
    return codec


def write_audio_file(
    path: Path, chunks: Iterable[np.ndarray], sample_rate_hz: int, num_channels: int
) -> None:
    """Write (N, C) float32 ``chunks`` to ``path``: WAV (16-bit PCM) or AAC, by suffix."""
    codec_name = audio_codec_for(path)
    with av.open(str(path), mode="w") as container:
        writer = AudioStreamWriter(container, codec_name, sample_rate_hz, num_channels)
        for chunk in chunks:
            writer.write(chunk)
        writer.close()
