"""``xdub media sample`` and ``xdub media probe`` through the real entry point."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import pytest

from xdub.cli import main


def test_sample_writes_the_clip_audio_and_truth_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    video, audio, truth = tmp_path / "phone.mp4", tmp_path / "speech.wav", tmp_path / "truth.json"
    argv = ["media", "sample", str(video), "--width", "48", "--height", "80", "--fps", "29.97"]
    argv += ["--duration-s", "0.5", "--rotate", "270", "--vfr", "--two-faces", "--seed", "3"]
    argv += ["--mux-audio", "--audio", str(audio), "--sample-rate", "48000", "--channels", "2"]
    argv += ["--truth", str(truth), "--timecode", "01:00:00:00"]
    assert main(argv) == 0
    assert "frames" in capsys.readouterr().out

    frames = json.loads(truth.read_text())["frames"]
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        decoded = list(container.decode(stream))
        assert container.streams.audio[0].codec_context.sample_rate == 48000
    assert len(decoded) == len(frames) and all(len(frame["faces"]) == 2 for frame in frames)
    assert decoded[0].rotation == -90  # 270 counter-clockwise is stored as -90
    assert (decoded[0].width, decoded[0].height) == (80, 48)
    with av.open(str(audio)) as container:
        context = container.streams.audio[0].codec_context
        assert (context.name, context.sample_rate, context.layout.nb_channels) == (
            "pcm_s16le",
            48000,
            2,
        )


def test_probe_prints_media_info_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    video = tmp_path / "clip.mov"
    argv = ["media", "sample", str(video), "--width", "64", "--height", "48", "--fps", "23.976"]
    assert main([*argv, "--duration-s", "0.5", "--codec", "prores"]) == 0
    capsys.readouterr()
    assert main(["media", "probe", str(video)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert Fraction(info["fps"]) == Fraction(24000, 1001)
    assert (info["video_codec"], info["num_frames"], info["is_vfr"]) == ("prores", 12, False)


def test_bad_input_is_reported_with_its_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["media", "probe", str(tmp_path / "missing.mp4")]) == 2
    assert "[not_found]" in capsys.readouterr().err
    assert main(["media", "sample", str(tmp_path / "x.mp4"), "--fps", "fast"]) == 2
    assert "[bad_fps]" in capsys.readouterr().err
