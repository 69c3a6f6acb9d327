"""Render a job's dialogue span (OTIO audio clips with source ranges and gaps) to one buffer.

Each segment is decoded with ``xdub.media.audio.load_audio`` (mono, resampled), cut to its
source range and placed at its offset; gaps and the part after the last segment are silence.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from xdub.errors import MediaError
from xdub.media.audio import load_audio
from xdub.media.audio_writer import write_audio_file

if TYPE_CHECKING:  # the job (above media) plans the span; media only renders it
    from xdub.job.timeline import DialogueSpan

log = logging.getLogger(__name__)

DIALOGUE_SAMPLE_RATE_HZ = 48000
"""The rendered dialogue's rate: the take's, so the pipeline resamples it only for the model."""


def render_dialogue(
    span: DialogueSpan, sample_rate_hz: int = DIALOGUE_SAMPLE_RATE_HZ
) -> np.ndarray:
    """The span as (N,) float32 mono in [-1, 1], N = round(duration_s * sample_rate_hz).

    A segment whose source range runs past its file's end is padded with silence (with a log
    line); MediaError when a file cannot be decoded or its range starts past its end.
    """
    num_samples = round(span.duration_s * sample_rate_hz)
    mixed = np.zeros(num_samples, dtype=np.float32)
    decoded: dict[Path, np.ndarray] = {}
    for segment in span.segments:
        if segment.path not in decoded:
            decoded[segment.path] = load_audio(segment.path, sample_rate_hz)
        samples = decoded[segment.path]
        source_start = round(segment.source_start_s * sample_rate_hz)
        length = round(segment.duration_s * sample_rate_hz)
        if source_start >= len(samples):
            raise MediaError(
                f"{segment.path}: the dialogue clip starts at {segment.source_start_s:.3f} s "
                f"but the file holds {len(samples) / sample_rate_hz:.3f} s",
                code="bad_audio",
                hint="relink the dialogue clip to the right file",
            )
        piece = samples[source_start : source_start + length]
        if len(piece) < length:
            log.info("%s: %d samples short of its range; padded", segment.path, length - len(piece))
        offset = round(segment.offset_s * sample_rate_hz)
        piece = piece[: max(0, num_samples - offset)]
        mixed[offset : offset + len(piece)] = piece
    return mixed


def write_dialogue_wav(
    span: DialogueSpan, path: Path, sample_rate_hz: int = DIALOGUE_SAMPLE_RATE_HZ
) -> Path:
    """Render ``span`` to a mono 16-bit WAV at ``path`` (written to a temp name, then moved)."""
    samples = render_dialogue(span, sample_rate_hz)
    temp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    write_audio_file(temp, [samples[:, None]], sample_rate_hz, 1)
    temp.replace(path)
    return path
