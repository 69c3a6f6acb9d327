"""Bad input is refused before torch or a model loads: precisely, and in under a second of CPU
(issue 20, "Fail fast"). Each case runs ``xdub dub`` in a fresh process, as a user does."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xdub.media.bad_samples import BAD_VIDEO_CASES, write_bad_video
from xdub.media.synthetic import AudioSpec, SpeechTrack, write_synthetic_audio
from xdub.protocol.precheck import precheck_dub

CPU_BOUND_S = 1.0
"""The refusal's CPU time (user + system; the machine's load does not stretch it). Loading
the tiny model and torch first, as before, took 6-9 s."""
WALL_BOUND_S = 20.0
"""Generous: the shared CI machine runs up to 8 test suites on 2 cores."""
REASONS = {
    "empty_file": "is empty (0 bytes)",
    "random_bytes": "not a readable media file",
    "truncated_mp4": "not a readable media file",
    "wav_named_mp4": "no video stream",
    "missing_path": "no such file",
    "a_folder": "is a folder, not a video",
}
PROGRAM = (
    "import sys; from xdub.cli import main; rc = main(sys.argv[1:]); "
    "print('TORCH' if 'torch' in sys.modules else 'NO TORCH'); sys.exit(rc)"
)


def _refusal(*args: str) -> tuple[int, str, float, float]:
    """(exit code, output, CPU seconds, wall seconds) of ``xdub ARGS`` in a fresh process."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-c", PROGRAM, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    with process.stdout:
        output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, output, usage.ru_utime + usage.ru_stime, time.monotonic() - started


@pytest.fixture(scope="module")
def dialogue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dialogue") / "line.wav"
    write_synthetic_audio(path, SpeechTrack.generate(1.0, seed=2), AudioSpec())
    return path


@pytest.fixture(scope="module")
def short_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fractions import Fraction

    from xdub.media.synthetic import SyntheticVideoSpec, write_synthetic_video

    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    write_synthetic_video(path, SyntheticVideoSpec(96, 96, Fraction(25), 0.4, seed=1))
    return path


@pytest.mark.parametrize("case", BAD_VIDEO_CASES)
def test_local_dub_refuses_bad_video_before_torch_loads(
    case: str, tmp_path: Path, dialogue: Path, tiny_model_dir: Path
) -> None:
    video = write_bad_video(case, tmp_path)
    take = tmp_path / "out" / "take.mp4"
    args = ("dub", "--local", str(video), str(dialogue), "-o", str(take))
    code, output, cpu_s, wall_s = _refusal(*args, "--model", str(tiny_model_dir))
    assert code == 2, output
    assert REASONS[case] in output, output
    assert output.strip().endswith("NO TORCH"), output
    assert cpu_s < CPU_BOUND_S, f"{case}: {cpu_s:.2f} s of CPU to refuse"
    assert wall_s < WALL_BOUND_S
    assert not take.exists()


def test_a_folder_as_dialogue_a_silent_dialogue_and_a_wrong_extension_are_refused_too(
    tmp_path: Path, short_video: Path, dialogue: Path
) -> None:
    folder = tmp_path / "dialogue"
    folder.mkdir()
    code, output, _, _ = _refusal("dub", "--local", str(short_video), str(folder), "-o", "t.mp4")
    assert code == 2 and "is a folder, not an audio or video file" in output, output
    take = str(tmp_path / "take.mp4")
    code, output, _, _ = _refusal("dub", str(short_video), str(short_video), "-o", take)
    assert code == 2 and "[bad_audio]" in output and "no audio stream" in output, output
    wrong = str(tmp_path / "take.avi")
    code, output, _, _ = _refusal("dub", str(short_video), str(dialogue), "-o", wrong)
    assert code == 2 and "cannot be written as '.avi'" in output and "NO TORCH" in output


def test_the_host_precheck_names_folders_unwritable_places_and_a_full_disk(
    tmp_path: Path, dialogue: Path, short_video: Path
) -> None:
    from xdub.errors import MediaError

    with pytest.raises(MediaError, match="is a folder, not a video"):
        precheck_dub(tmp_path, dialogue, tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.geteuid() != 0:  # root writes anywhere: the mode check is for users
        with pytest.raises(MediaError, match="not writable"):
            precheck_dub(short_video, dialogue, locked)
    with pytest.raises(MediaError, match="is a file, not a folder"):
        precheck_dub(short_video, dialogue, dialogue / "takes")
    with pytest.raises(MediaError) as caught:
        precheck_dub(short_video, dialogue, tmp_path / "new", take_bytes=1 << 60)
    assert caught.value.code == "disk_full" and str(tmp_path) in caught.value.message
    precheck_dub(short_video, dialogue, tmp_path / "new")  # a folder made later is fine
