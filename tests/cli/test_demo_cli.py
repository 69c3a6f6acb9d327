"""``xdub demo``: the README's main command dubs a sample clip, and says which weights it used."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from xdub.media.probe import probe


def test_demo_without_weights_uses_tiny_test_weights_and_says_so(tmp_path: Path) -> None:
    env = {**os.environ, "XDUB_MODEL_DIR": str(tmp_path / "no-model-installed")}
    result = subprocess.run(
        [sys.executable, "-m", "xdub", "demo", str(tmp_path / "demo"), "--steps", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "TINY RANDOM TEST WEIGHTS" in result.stdout
    take = probe(tmp_path / "demo" / "take.mp4")
    clip = probe(tmp_path / "demo" / "sample-clip.mp4")
    assert (take.num_frames, take.width, take.height) == (clip.num_frames, clip.width, clip.height)
    assert take.has_audio
