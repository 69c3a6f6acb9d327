"""A job rewritten onto the cut of its source shows the same frames (``parse_job`` frames),
and a job whose take a cut could change goes unchanged (the whole file is uploaded)."""

from __future__ import annotations

import dataclasses
import json
import logging
import wave
from fractions import Fraction
from pathlib import Path

import pytest
from opentimelineio.opentime import RationalTime, TimeRange
from support.cut_media import FPS, frames_md5_between, write_video

from xdub.job import cut_source
from xdub.job.cut_source import cut_job_source
from xdub.job.timeline import DialogueClip, SourceClip, build_job, job_to_json, parse_job
from xdub.media.probe import probe
from xdub.media.synthetic import AudioSpec, SyntheticVideoSpec, write_synthetic_video
from xdub.protocol.timecode import shift_timecode

HOUR_FRAMES = 3600 * FPS
"""01:00:00:00 at 25 fps: where an editor's media usually starts."""


def _speech(folder: Path) -> Path:
    speech = folder / "speech.wav"
    with wave.open(str(speech), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(bytes(2 * 16000 * 2))
    return speech


def _job(
    src: Path, first: int, count: int, *, rate: float = FPS, origin: int = 0, dialogue: Path
) -> str:
    used = TimeRange(RationalTime(origin + first, rate), RationalTime(count, rate))
    available = TimeRange(RationalTime(origin, rate), RationalTime(300, rate)) if origin else None
    heard = TimeRange(RationalTime(0, 16000), RationalTime(16000 * count // FPS, 16000))
    speech = DialogueClip(dialogue, heard, RationalTime(0, rate))
    source = SourceClip(src, used, available)
    return job_to_json(build_job(source, [speech], name="job", host="test"))


def _frames(video: Path, start_frame: int, count: int) -> list[str]:
    return frames_md5_between(video, Fraction(start_frame, FPS), Fraction(start_frame + count, FPS))


@pytest.mark.parametrize(
    ("origin", "suffix", "start_frame"),
    [(0, ".mp4", 0), (HOUR_FRAMES, ".mp4", 0), (0, ".mov", 50), (0, ".mkv", 50), (0, ".ts", 0)],
)
def test_the_cut_job_takes_the_same_frames(
    tmp_path: Path, origin: int, suffix: str, start_frame: int
) -> None:
    """From the file's start, and from the timecode a host's available range starts at; files
    whose first frame is shown after 0; Matroska (no decode times stored) and MPEG-TS (its
    seek lands past the key frame: the cut reads it from the start)."""
    src = tmp_path / f"long{suffix}"
    write_video(src, 300, start_frame=start_frame)
    job = _job(src, 130, 40, origin=origin, dialogue=_speech(tmp_path))
    cut_json = cut_job_source(job, tmp_path)
    before, after = parse_job(job), parse_job(cut_json)
    assert after.video_path != src and after.video_path.stat().st_size < src.stat().st_size
    assert after.num_frames == before.num_frames == 40
    assert after.start_frame == 30
    assert _frames(after.video_path, after.start_frame, 40) == _frames(src, 130, 40)


def _unchanged(job: str, folder: Path, caplog: pytest.LogCaptureFixture, why: str) -> None:
    with caplog.at_level(logging.INFO, logger="xdub.job.cut_source"):
        assert cut_job_source(job, folder) == job
    assert why in caplog.text


def test_a_variable_frame_rate_source_goes_whole(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    src = tmp_path / "phone.mp4"
    write_synthetic_video(src, SyntheticVideoSpec(width=64, height=48, duration_s=12, is_vfr=True))
    job = _job(src, 130, 40, dialogue=_speech(tmp_path))
    _unchanged(job, tmp_path, caplog, "its frame rate varies")


def test_a_clip_at_another_rate_than_its_file_goes_whole(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    src = tmp_path / "long.mp4"
    write_video(src, 300)
    job = _job(src, 120, 40, rate=24, dialogue=_speech(tmp_path))
    _unchanged(job, tmp_path, caplog, "is not the clip's 24")


def test_a_dialogue_read_from_the_source_itself_goes_whole(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The whole file is uploaded for the dialogue anyway: a cut would only add bytes."""
    src = tmp_path / "interview.mp4"
    spec = SyntheticVideoSpec(width=64, height=48, duration_s=12, audio=AudioSpec())
    write_synthetic_video(src, spec)
    job = _job(src, 130, 40, dialogue=src)
    _unchanged(job, tmp_path, caplog, "the dialogue is read from it too")


def test_a_cut_whose_muxer_dropped_the_timecode_is_not_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe of the cut guards the take: a muxer that writes no timecode track (as the
    .mov muxer did for ProRes without the stream's rate) must not give the take none."""
    src = tmp_path / "long.mp4"
    write_video(src, 300, timecode="01:00:00:00")
    real_cut = cut_source.cut_video_range

    def without_timecode(src: Path, dst: Path, start_s: float, end_s: float, **_: object) -> object:
        cut = real_cut(src, dst, start_s, end_s)
        return cut and dataclasses.replace(cut, timecode="01:00:04:00")

    monkeypatch.setattr(cut_source, "cut_video_range", without_timecode)
    job = _job(src, 130, 40, dialogue=_speech(tmp_path))
    _unchanged(job, tmp_path, caplog, "has the timecode None, not 01:00:04:00")


def test_a_29_97_drop_frame_source_is_cut_at_its_own_rate(tmp_path: Path) -> None:
    """NTSC: the clip's float rate is the file's 30000/1001, and the cut's drop-frame
    timecode is the source's moved by the frames before the cut."""
    fps = Fraction(30000, 1001)
    src = tmp_path / "ntsc.mov"
    spec = SyntheticVideoSpec(
        width=64, height=48, fps=fps, duration_s=8, codec="prores", timecode="00:00:59;00"
    )
    write_synthetic_video(src, spec)
    rate = float(fps)
    used = TimeRange(RationalTime(60, rate), RationalTime(30, rate))
    heard = TimeRange(RationalTime(0, 16000), RationalTime(16000, 16000))
    dialogue = DialogueClip(_speech(tmp_path), heard, RationalTime(0, rate))
    job = job_to_json(build_job(SourceClip(src, used), [dialogue], name="job", host="test"))
    after = parse_job(cut_job_source(job, tmp_path))
    assert (after.start_frame, after.num_frames) == (0, 30)  # intra-only: cut at the in-point
    assert probe(after.video_path).timecode == shift_timecode("00:00:59;00", 60, fps)
    assert shift_timecode("00:00:59;00", 60, fps) == "00:01:01;02"  # minute 1 drops ;00 ;01


def test_a_source_named_by_a_file_url_is_cut(tmp_path: Path) -> None:
    """Hosts write ``file://`` URLs, percent-encoded: the cut reads the path as the job does."""
    src = tmp_path / "scene 1.mp4"
    write_video(src, 300)
    job = _job(src, 130, 40, dialogue=_speech(tmp_path)).replace(
        json.dumps(str(src)), json.dumps(src.as_uri())
    )
    assert src.as_uri() in job and "%20" in job
    after = parse_job(cut_job_source(job, tmp_path))
    assert after.video_path != src and after.start_frame == 30
