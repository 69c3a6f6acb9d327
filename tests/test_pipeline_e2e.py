"""End to end: generated clips + dialogue through ``DubPipeline`` with the tiny test model.

Every take must keep the source's frame rate, size, frame times and length, carry the
replacement dialogue, leave the picture outside the face box alone and change it inside.
"""

from __future__ import annotations

import ctypes
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from xdub.errors import MediaError
from xdub.job.options import Codec, DubOptions
from xdub.media.audio import fit_audio_length, load_audio
from xdub.media.conform import covering_target_frames
from xdub.media.decode import iter_frames
from xdub.media.probe import probe
from xdub.media.synthetic import (
    AudioSpec,
    SpeechTrack,
    SyntheticVideoSpec,
    write_synthetic_audio,
    write_synthetic_video,
)
from xdub.media.timestamps import frame_times
from xdub.pipeline import DubPipeline, DubResult

OPTIONS = DubOptions(codec=Codec.H264, num_steps=2)
"""Two steps: the same code path as 30, in a fraction of the time."""
OUTSIDE_MAX_MEAN_DIFF = 3.0
"""Two H.264 generations of the same pixels differ by ~1-2 levels on average (crf 16)."""
INSIDE_MIN_MEAN_DIFF = 8.0
"""Random test weights turn the face into noise: far beyond codec error."""
FEATHER_PX = 1
"""Paste-back writes exactly inside the box; one pixel of slack for chroma subsampling."""
AUDIO_MIN_CORRELATION = 0.95
"""AAC at 128 kb/s keeps the waveform: correlation with the source dialogue is ~0.99."""


@pytest.fixture(scope="module")
def pipeline(tiny_model_dir: Path) -> DubPipeline:
    return DubPipeline(tiny_model_dir, device="cpu", precision="fp32")


@dataclass(frozen=True)
class Case:
    name: str
    fps: Fraction = Fraction(25)
    width: int = 160
    height: int = 96
    duration_s: float = 1.6
    audio_s: float | None = None
    rotation_deg: int = 0
    is_vfr: bool = False
    num_windows: int = 1


CASES = [
    Case("25fps"),
    Case(
        "23.976fps_short_audio",
        fps=Fraction(24000, 1001),
        duration_s=3.4,
        audio_s=2.5,
        num_windows=2,
    ),
    Case("29.97fps_long_audio", fps=Fraction(30000, 1001), duration_s=1.5, audio_s=2.2),
    Case("60fps", fps=Fraction(60), duration_s=1.0),
    Case("portrait_rotated", width=96, height=160, rotation_deg=-90),
    Case("vfr", is_vfr=True, fps=Fraction(30)),
    Case("1080p", width=1920, height=1080, duration_s=0.5),
    Case("5_windows", width=128, height=96, duration_s=12.0, num_windows=5),
]


def _dub(pipeline: DubPipeline, tmp_path: Path, case: Case) -> tuple[Path, Path, DubResult]:
    video, dialogue = _write_media(tmp_path, case)
    result = pipeline.run(video, dialogue, tmp_path / "take.mp4", OPTIONS)
    return video, dialogue, result


def _write_media(tmp_path: Path, case: Case) -> tuple[Path, Path]:
    spec = SyntheticVideoSpec(
        width=case.width,
        height=case.height,
        fps=case.fps,
        duration_s=case.duration_s,
        rotation_deg=case.rotation_deg,
        is_vfr=case.is_vfr,
        seed=3,
    )
    tmp_path.mkdir(parents=True, exist_ok=True)
    video = tmp_path / "clip.mp4"
    write_synthetic_video(video, spec)
    dialogue = tmp_path / "dialogue.wav"
    audio_s = case.audio_s or case.duration_s
    write_synthetic_audio(dialogue, SpeechTrack.generate(audio_s, seed=11), AudioSpec(48000, 2))
    return video, dialogue


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_take_keeps_the_clip_and_changes_only_the_face(
    pipeline: DubPipeline, tmp_path: Path, case: Case
) -> None:
    video, dialogue, result = _dub(pipeline, tmp_path, case)
    source, take = probe(video), probe(result.output)
    assert result.num_windows == case.num_windows
    assert result.is_test_weights
    assert (take.display_width, take.display_height) == (case.width, case.height)
    assert take.num_frames == source.num_frames == result.num_frames
    assert abs(take.duration_s - source.duration_s) <= 1 / float(source.fps)
    if case.is_vfr:
        assert take.is_vfr
        np.testing.assert_allclose(
            frame_times(result.output).relative_s(), frame_times(video).relative_s(), atol=1e-4
        )
    else:
        assert take.fps == source.fps
    _assert_audio_is_the_dialogue(result.output, dialogue, source.duration_s)
    _assert_only_the_face_changed(video, result)
    has_length_warning = case.audio_s is not None
    assert bool(result.warnings) == has_length_warning


def _assert_audio_is_the_dialogue(take: Path, dialogue: Path, duration_s: float) -> None:
    heard = load_audio(take, 16000)
    expected, _ = fit_audio_length(load_audio(dialogue, 16000), round(duration_s * 16000))
    assert abs(len(heard) - len(expected)) <= 16000 // 25  # within one frame
    n = min(len(heard), len(expected))
    correlation = np.corrcoef(heard[:n], expected[:n])[0, 1]
    assert correlation > AUDIO_MIN_CORRELATION


def _assert_only_the_face_changed(video: Path, result: DubResult) -> None:
    covering = covering_target_frames(
        frame_times(video).relative_s(), num_target=len(result.face_boxes)
    )
    inside_diffs = []
    for source, dubbed in zip(iter_frames(video), iter_frames(result.output), strict=True):
        x1, y1, x2, y2 = result.face_boxes[covering[source.index]]
        diff = np.abs(source.rgb.astype(np.int16) - dubbed.rgb).mean(axis=2)
        outside = np.ones(diff.shape, dtype=bool)
        outside[
            max(0, y1 - FEATHER_PX) : y2 + FEATHER_PX, max(0, x1 - FEATHER_PX) : x2 + FEATHER_PX
        ] = False
        if outside.any():
            assert diff[outside].mean() <= OUTSIDE_MAX_MEAN_DIFF, source.index
        inside_diffs.append(diff[y1:y2, x1:x2].mean())
    assert np.mean(inside_diffs) >= INSIDE_MIN_MEAN_DIFF


def test_dialogue_without_audio_is_refused_before_any_work(
    pipeline: DubPipeline, tmp_path: Path
) -> None:
    video = tmp_path / "clip.mp4"
    write_synthetic_video(video, SyntheticVideoSpec(duration_s=0.5))
    with pytest.raises(MediaError) as caught:
        pipeline.run(video, video, tmp_path / "take.mp4", OPTIONS)
    assert caught.value.code == "no_audio"
    assert not (tmp_path / "take.mp4").exists()


def test_same_seed_gives_the_same_take(pipeline: DubPipeline, tmp_path: Path) -> None:
    """Crash-resume relies on a take being a function of its inputs and seed. Each run gets
    fresh heap memory filled with a different byte, so a read of uninitialised memory (x264's
    AVX-512 MB-tree code did one) changes the take every time, not one run in a few."""
    video, dialogue = _write_media(tmp_path, Case("same_seed", duration_s=0.8))
    takes = []
    for name, byte in (("a", 0x55), ("b", 0xAA)):
        with _heap_filled_with(byte):
            takes.append(pipeline.run(video, dialogue, tmp_path / f"{name}.mp4", OPTIONS))
    frames_a = [f.rgb for f in iter_frames(takes[0].output)]
    frames_b = [f.rgb for f in iter_frames(takes[1].output)]
    assert all(np.array_equal(a, b) for a, b in zip(frames_a, frames_b, strict=True))


M_PERTURB = -6
"""glibc ``mallopt`` parameter: blocks are handed out filled with the complement of a byte."""


@contextmanager
def _heap_filled_with(byte: int) -> Iterator[None]:
    """Inside, fresh ``malloc`` memory holds ``byte``-derived garbage (glibc; a no-op elsewhere)."""
    mallopt = None
    if platform.libc_ver()[0] == "glibc":
        mallopt = ctypes.CDLL(None).mallopt
    if mallopt is not None:
        mallopt(M_PERTURB, byte)
    try:
        yield
    finally:
        if mallopt is not None:
            mallopt(M_PERTURB, 0)


def test_a_frame_range_is_dubbed_alone_with_its_timecode(
    pipeline: DubPipeline, tmp_path: Path
) -> None:
    video, dialogue = tmp_path / "clip.mp4", tmp_path / "dialogue.wav"
    spec = SyntheticVideoSpec(duration_s=2.0, seed=3, timecode="01:00:00:00")
    write_synthetic_video(video, spec)
    write_synthetic_audio(dialogue, SpeechTrack.generate(1.2, seed=11), AudioSpec())
    result = pipeline.run(video, dialogue, tmp_path / "take.mp4", OPTIONS, frames=(10, 30))
    take = probe(result.output)
    assert take.num_frames == 30 and take.timecode == "01:00:00:10"
    assert abs(take.duration_s - 1.2) <= 1 / 25
    source = [f.rgb for f in iter_frames(video)][10:40]
    for frame, original in zip(iter_frames(result.output), source, strict=True):
        x1, y1, x2, y2 = result.face_boxes[min(frame.index, len(result.face_boxes) - 1)]
        outside = np.ones(original.shape[:2], dtype=bool)
        outside[y1:y2, x1:x2] = False
        diff = np.abs(frame.rgb.astype(np.int16) - original).mean(axis=2)
        assert diff[outside].mean() <= OUTSIDE_MAX_MEAN_DIFF
    assert not result.warnings  # 30 frames at 25 fps = 1.2 s = the dialogue


def test_a_range_outside_the_file_is_refused(pipeline: DubPipeline, tmp_path: Path) -> None:
    video, dialogue = tmp_path / "clip.mp4", tmp_path / "dialogue.wav"
    write_synthetic_video(video, SyntheticVideoSpec(duration_s=0.4))
    write_synthetic_audio(dialogue, SpeechTrack.generate(0.4, seed=1), AudioSpec())
    with pytest.raises(MediaError) as caught:
        pipeline.run(video, dialogue, tmp_path / "take.mp4", OPTIONS, frames=(5, 100))
    assert caught.value.code == "bad_range"
