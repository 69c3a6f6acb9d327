"""Bad inputs a user gives by mistake, generated for the fail-fast tests and benchmark: each
must be refused before torch loads, with its precise reason."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

from xdub.media.synthetic import (
    AudioSpec,
    SyntheticVideoSpec,
    write_synthetic_audio,
    write_synthetic_video,
)

BAD_VIDEO_CASES = (
    "empty_file",
    "random_bytes",
    "truncated_mp4",
    "wav_named_mp4",
    "missing_path",
    "a_folder",
)


def write_bad_video(case: str, folder: Path, seed: int = 0) -> Path:
    """The path of bad input ``case`` (one of ``BAD_VIDEO_CASES``) made in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{case}.mp4"
    if case == "empty_file":
        path.write_bytes(b"")
    elif case == "random_bytes":
        path.write_bytes(os.urandom(256 * 1024))
    elif case == "truncated_mp4":
        whole = folder / "whole.mp4"
        write_synthetic_video(whole, SyntheticVideoSpec(96, 96, Fraction(25), 1.0, seed=seed))
        data = whole.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    elif case == "wav_named_mp4":
        wav = folder / "speech.wav"
        spec = SyntheticVideoSpec(96, 96, Fraction(25), 1.0, seed=seed)
        write_synthetic_audio(wav, spec.speech(), AudioSpec())
        wav.rename(path)
    elif case == "a_folder":
        path.mkdir(exist_ok=True)
    elif case != "missing_path":
        raise ValueError(f"unknown bad input {case!r}; one of {BAD_VIDEO_CASES}")
    return path
