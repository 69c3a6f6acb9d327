"""Fixtures for the take-quality tests: a synthetic talking clip with its truth and speech,
and a lossless writer for takes made by editing the source's decoded frames."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from xdub.media.decode import iter_frames
from xdub.media.synthetic import (
    AudioSpec,
    SyntheticVideoSpec,
    write_synthetic_audio,
    write_synthetic_video,
)


@dataclass(frozen=True)
class TalkingClip:
    """A synthetic clip (speech muxed), its truth JSON and its speech as a WAV."""

    video: Path
    truth: Path
    dialogue: Path
    fps: Fraction


def write_lossless(path: Path, frames: Iterable[np.ndarray], fps: Fraction) -> Path:
    """Encode ``(H, W, 3)`` uint8 RGB frames losslessly (x264 RGB, qp 0) so they decode
    bit-exactly: a take whose pixels the test controls."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264rgb", rate=fps, options={"qp": "0"})
        stream.pix_fmt = "rgb24"
        for index, rgb in enumerate(frames):
            if index == 0:
                stream.height, stream.width = rgb.shape[:2]
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.fixture(scope="module")
def talking_clip(tmp_path_factory: pytest.TempPathFactory) -> TalkingClip:
    """4 s at 25 fps: 100 frames, so one window seam (model frame 72)."""
    folder = tmp_path_factory.mktemp("talking")
    spec = SyntheticVideoSpec(width=160, height=96, duration_s=4.0, seed=3, audio=AudioSpec())
    clip = write_synthetic_video(folder / "clip.mp4", spec)
    clip.save_truth(folder / "truth.json")
    write_synthetic_audio(folder / "dialogue.wav", spec.speech(), AudioSpec())
    return TalkingClip(
        folder / "clip.mp4", folder / "truth.json", folder / "dialogue.wav", spec.fps
    )


@pytest.fixture
def make_take(tmp_path: Path) -> Callable[..., Path]:
    """``make_take(source, edit, name)``: the source's decoded frames through
    ``edit(index, rgb) -> rgb``, written losslessly."""

    def make(source: Path, edit: Callable[[int, np.ndarray], np.ndarray], name: str) -> Path:
        frames = (edit(frame.index, frame.rgb) for frame in iter_frames(source))
        return write_lossless(tmp_path / name, frames, Fraction(25))

    return make
