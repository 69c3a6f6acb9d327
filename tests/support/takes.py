"""Tiny takes for pipeline tests: a generated clip with its dialogue, one-step options, and a
take's decoded frames as one md5 (two takes are the same take when their md5s are)."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from pathlib import Path

from xdub.job.options import DubOptions
from xdub.media.decode import iter_frames
from xdub.media.synthetic import (
    AudioSpec,
    SyntheticVideoSpec,
    write_synthetic_audio,
    write_synthetic_video,
)
from xdub.protocol.records import Codec

ONE_STEP = DubOptions(num_steps=1, codec=Codec.H264)
"""Options that keep a tiny take to seconds."""


def tiny_clip(folder: Path, duration_s: float, fps: Fraction) -> tuple[Path, Path]:
    """A 96 px talking-face clip and its dialogue in ``folder``: ``(video, audio)``."""
    spec = SyntheticVideoSpec(width=96, height=96, fps=fps, duration_s=duration_s, seed=3)
    video, audio = folder / "clip.mp4", folder / "dialogue.wav"
    write_synthetic_video(video, spec)
    write_synthetic_audio(audio, spec.speech(), AudioSpec())
    return video, audio


def frames_md5(path: Path) -> str:
    """md5 of every decoded RGB frame of ``path``, in order."""
    digest = hashlib.md5()
    for frame in iter_frames(path):
        digest.update(frame.rgb.tobytes())
    return digest.hexdigest()
