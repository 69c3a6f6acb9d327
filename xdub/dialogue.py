"""The replacement dialogue of a take: 16 kHz for the model, 48 kHz for the take, fitted to
the clip's length (padded with silence or cut, with a warning an editor sees)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xdub.media.audio import MODEL_SAMPLE_RATE_HZ, fit_audio_length, load_audio
from xdub.media.encode import TakeAudio

TAKE_SAMPLE_RATE_HZ = 48000
"""The take's audio rate: the replacement dialogue, mono, resampled to 48 kHz for editors."""

LENGTH_NOTICE_S = 0.04
"""Dialogue and clip lengths differing by more than one frame (at 25 fps) earn a warning."""


@dataclass
class Dialogue:
    """The dialogue as the model and the take need it."""

    samples_16k: np.ndarray
    take_audio: TakeAudio
    warnings: list[str] = field(default_factory=list)


def length_warning(audio_s: float, clip_s: float) -> str | None:
    """The warning for dialogue of ``audio_s`` fitted to a clip of ``clip_s`` (cut or padded
    with silence), or None when they match within a frame."""
    if abs(audio_s - clip_s) <= LENGTH_NOTICE_S:
        return None
    change = "cut" if audio_s > clip_s else "filled with silence"
    return (
        f"the dialogue is {audio_s:.2f} s but the clip is {clip_s:.2f} s: "
        f"the last {abs(audio_s - clip_s):.2f} s of the take's audio were {change}"
    )


def load_dialogue(audio: Path, duration_s: float) -> Dialogue:
    """The replacement dialogue fitted to the clip: padded with silence or trimmed (warned)."""
    samples = load_audio(audio, MODEL_SAMPLE_RATE_HZ)
    audio_s = len(samples) / MODEL_SAMPLE_RATE_HZ
    fitted, _ = fit_audio_length(samples, round(duration_s * MODEL_SAMPLE_RATE_HZ))
    warning = length_warning(audio_s, duration_s)
    warnings = [warning] if warning else []
    take_samples = load_audio(audio, TAKE_SAMPLE_RATE_HZ)
    take_samples, _ = fit_audio_length(take_samples, round(duration_s * TAKE_SAMPLE_RATE_HZ))
    return Dialogue(fitted, TakeAudio(take_samples, TAKE_SAMPLE_RATE_HZ), warnings)
