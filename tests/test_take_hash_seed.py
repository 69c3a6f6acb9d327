"""The take does not depend on Python's string hash seed: two processes with different
``PYTHONHASHSEED`` values write the same file for the same job. Ray actors (``--backend ray``)
and restarted workers get random seeds, and a resumed take must equal an uninterrupted one."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from xdub.media.synthetic import (
        AudioSpec,
        SyntheticVideoSpec,
        write_synthetic_audio,
        write_synthetic_video,
    )

    folder = tmp_path_factory.mktemp("hash-seed")
    spec = SyntheticVideoSpec(width=96, height=96, fps=Fraction(25), duration_s=3.2, seed=5)
    video, audio = folder / "clip.mp4", folder / "clip.wav"
    write_synthetic_video(video, spec)
    write_synthetic_audio(audio, spec.speech(), AudioSpec())
    return video, audio


def _take_md5(hash_seed: str, clip: tuple[Path, Path], model: Path, out: Path) -> str:
    video, audio = clip
    main = "import sys; from xdub.cli import main; sys.exit(main(sys.argv[1:]))"
    command = [sys.executable, "-c", main, "dub", str(video), str(audio), "-o", str(out)]
    command += ["--model", str(model), "--steps", "1", "--seed", "7", "--codec", "h264"]
    command += ["--device", "cpu", "--vram-policy", "offload", "--local"]
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return hashlib.md5(out.read_bytes()).hexdigest()


def test_two_processes_with_different_hash_seeds_write_the_same_take(
    clip: tuple[Path, Path], tiny_model_dir: Path, tmp_path: Path
) -> None:
    first = _take_md5("1", clip, tiny_model_dir, tmp_path / "take-1.mp4")
    second = _take_md5("2", clip, tiny_model_dir, tmp_path / "take-2.mp4")
    assert first == second
