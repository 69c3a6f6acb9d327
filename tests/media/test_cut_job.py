"""A job rewritten onto the cut of its source shows the same frames (``parse_job`` frames)."""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

from opentimelineio.opentime import RationalTime, TimeRange

from tests.media.test_cut import FPS, _frames_md5, _write_h264
from xdub.job.timeline import DialogueClip, SourceClip, build_job, job_to_json, parse_job
from xdub.protocol.cut_upload import cut_job_source


def test_the_cut_job_takes_the_same_frames(tmp_path: Path) -> None:
    src = tmp_path / "long.mp4"
    _write_h264(src, 300)
    speech = tmp_path / "speech.wav"
    with wave.open(str(speech), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(bytes(2 * 16000 * 2))
    used = TimeRange(RationalTime(130, FPS), RationalTime(40, FPS))
    heard = TimeRange(RationalTime(0, 16000), RationalTime(16000 * 8 // 5, 16000))
    dialogue = DialogueClip(speech, heard, RationalTime(0, FPS))
    job = job_to_json(build_job(SourceClip(src, used), [dialogue], name="job", host="test"))
    cut_json = cut_job_source(job, tmp_path)
    before, after = parse_job(job), parse_job(cut_json)
    assert after.video_path != src and after.video_path.stat().st_size < src.stat().st_size
    assert after.num_frames == before.num_frames == 40
    assert after.start_frame == 30

    def frames(video: Path, start_frame: int, count: int) -> list[str]:
        return _frames_md5(video, Fraction(start_frame, FPS), Fraction(start_frame + count, FPS))

    assert frames(after.video_path, after.start_frame, 40) == frames(src, 130, 40)
