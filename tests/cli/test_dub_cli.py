"""``xdub dub`` as a user runs it: a take with a progress bar, or one clear line of error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from xdub.media.synthetic import (
    AudioSpec,
    SpeechTrack,
    SyntheticVideoSpec,
    write_synthetic_audio,
    write_synthetic_video,
)


def _xdub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xdub", *args], capture_output=True, text=True, timeout=600
    )


@pytest.fixture
def media(tmp_path: Path) -> tuple[Path, Path]:
    video, audio = tmp_path / "clip.mp4", tmp_path / "line.wav"
    write_synthetic_video(video, SyntheticVideoSpec(duration_s=0.8, seed=1))
    write_synthetic_audio(audio, SpeechTrack.generate(0.8, seed=2), AudioSpec())
    return video, audio


def test_dub_writes_a_take_and_says_it_used_test_weights(
    tiny_model_dir: Path, media: tuple[Path, Path], tmp_path: Path
) -> None:
    video, audio = media
    take = tmp_path / "take.mov"
    result = _xdub(
        "dub", str(video), str(audio), "-o", str(take), "--model", str(tiny_model_dir),
        "--steps", "1", "--codec", "prores_hq",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert take.is_file() and "wrote" in result.stdout
    assert "TINY RANDOM TEST WEIGHTS" in result.stderr
    assert "write take" in result.stderr  # the progress bar reached the last stage


def test_missing_model_folder_says_how_to_get_the_weights(
    media: tuple[Path, Path], tmp_path: Path
) -> None:
    video, audio = media
    result = _xdub(
        "dub", str(video), str(audio), "-o", str(tmp_path / "t.mp4"),
        "--model", str(tmp_path / "nowhere"),
    )  # fmt: skip
    assert result.returncode == 2
    assert "[model_missing]" in result.stderr and "xdub models download" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreadable_video_is_one_clear_error(
    tiny_model_dir: Path, media: tuple[Path, Path], tmp_path: Path
) -> None:
    _, audio = media
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    result = _xdub(
        "dub", str(junk), str(audio), "-o", str(tmp_path / "t.mp4"),
        "--model", str(tiny_model_dir),
    )  # fmt: skip
    assert result.returncode == 2
    assert "junk.mp4" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "t.mp4").exists()


def test_draft_preset_writes_a_take_marked_draft(
    tiny_model_dir: Path, media: tuple[Path, Path], tmp_path: Path
) -> None:
    video, audio = media
    take = tmp_path / "draft.mp4"
    result = _xdub(
        "dub", str(video), str(audio), "-o", str(take), "--model", str(tiny_model_dir),
        "--preset", "draft", "--local",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert take.is_file()
    assert "wrote DRAFT take" in result.stdout and "fast quality, 10 steps" in result.stdout
    assert "fast mode without FP8 weights" in result.stderr  # said, not silently dropped


def test_fp8_on_a_cpu_is_refused_with_a_clear_error(
    tiny_model_dir: Path, media: tuple[Path, Path], tmp_path: Path
) -> None:
    video, audio = media
    result = _xdub(
        "dub", str(video), str(audio), "-o", str(tmp_path / "t.mp4"),
        "--model", str(tiny_model_dir), "--quality", "fast", "--fp8", "on", "--local",
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "[unsupported_hardware]" in result.stderr and "compute capability 8.9" in result.stderr
    assert "--fp8 off" in result.stderr and "Traceback" not in result.stderr
