"""``xdub.protocol.otio_json``, the hosts' OTIO job writer, read back by the real OTIO reader
(``xdub.job.timeline.parse_job``) and reading what ``xdub.job.result`` writes."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio
import pytest

from xdub.errors import JobError
from xdub.job.result import build_result
from xdub.job.timeline import parse_job
from xdub.protocol.otio_json import (
    ROLE_RESULT,
    ROLE_SOURCE,
    DialogueClip,
    MediaClip,
    Span,
    build_job,
    clips_with_role,
    file_name,
    job_to_json,
    media_reference,
)

NTSC_FPS = Fraction(24000, 1001)
RATE_HZ = 48000
SECONDS_ATOL = 1e-9
"""The writer's times are exact Fractions turned into doubles once; parse_job's seconds come
from those doubles, so they agree to rounding (far below one sample, 21 µs)."""


def _files(tmp_path: Path) -> tuple[Path, Path, Path]:
    paths = (tmp_path / "A012_C004.mov", tmp_path / "line 1.wav", tmp_path / "line 2.wav")
    for path in paths:
        path.write_bytes(b"")
    return paths


def _source(video: Path, name: str = "Ana close-up") -> MediaClip:
    """240 frames into a 1000-frame file (timecode origin 86400), 48 frames used, at 23.976."""
    return MediaClip(
        name,
        str(video),
        used=Span(86400 + 240, 48, NTSC_FPS),
        available=Span(86400, 1000, NTSC_FPS),
    )


def _line(path: Path, start_s: Fraction, duration_s: Fraction, offset_s: Fraction) -> DialogueClip:
    used = Span(start_s * RATE_HZ, duration_s * RATE_HZ, RATE_HZ)
    return DialogueClip(MediaClip(file_name(str(path)), str(path), used), offset_s)


def _flush_job(source: MediaClip, line_path: Path) -> dict[str, Any]:
    """``source`` at the timeline's first frame, with one second of dialogue from its start."""
    return build_job(
        source,
        [_line(line_path, Fraction(0), Fraction(1), Fraction(0))],
        name="S",
        host="resolve",
        rate=NTSC_FPS,
        start_frame=86400,
        record_frame=86400,
    )


def test_a_job_parses_with_the_real_reader_and_keeps_names_and_times(tmp_path: Path) -> None:
    video, first, second = _files(tmp_path)
    clip_s = 48 / NTSC_FPS
    lines = [  # out of order: the writer sorts them
        _line(second, Fraction(1, 2), Fraction(1, 2), clip_s - Fraction(1, 2)),
        _line(first, Fraction(0), Fraction(3, 4), Fraction(1, 4)),
    ]
    timeline = build_job(
        _source(video),
        lines,
        name="Scene 12",
        host="resolve",
        rate=NTSC_FPS,
        start_frame=86400,
        record_frame=86400 + 100,
        host_ids={"item": "7"},
        metadata={"timeline_fps": float(NTSC_FPS), "schema": 99},
    )
    job = parse_job(job_to_json(timeline))
    assert (job.name, job.clip_name, job.host, job.host_ids) == (
        "Scene 12",
        "Ana close-up",
        "resolve",
        {"item": "7"},
    )
    info = timeline["metadata"]["xdub"]
    assert info["schema"] == 1 and info["timeline_fps"] == float(NTSC_FPS)  # extras can't clobber
    assert job.video_path == video and job.fps == pytest.approx(float(NTSC_FPS))
    assert (job.start_frame, job.num_frames) == (240, 48)
    assert job.record_start_s == pytest.approx(float(100 / NTSC_FPS), abs=SECONDS_ATOL)
    segments = [(s.path, s.source_start_s, s.duration_s, s.offset_s) for s in job.dialogue.segments]
    expected = [
        (first, 0.0, 0.75, 0.25),
        (second, 0.5, 0.5, float(clip_s) - 0.5),
    ]
    assert [path for path, *_ in segments] == [path for path, *_ in expected]
    for got, want in zip(segments, expected, strict=True):
        assert got[1:] == pytest.approx(want[1:], abs=SECONDS_ATOL)
    gaps = [value for gap in job.dialogue.gaps for value in (gap.offset_s, gap.duration_s)]
    middle_s = float(clip_s) - 0.5 - 1.0
    assert gaps == pytest.approx([0.0, 0.25, 1.0, middle_s], abs=SECONDS_ATOL)
    assert job.warnings == ()  # the last line ends with the clip


def test_gaps_are_written_at_the_rate_of_the_clip_they_lead_to(tmp_path: Path) -> None:
    video, first, _ = _files(tmp_path)
    timeline = build_job(
        _source(video),
        [_line(first, Fraction(0), Fraction(1), Fraction(1, 4))],
        name="S",
        host="blender",
        rate=25,
        start_frame=10,
        record_frame=60,
    )
    video_track, audio_track = timeline["tracks"]["children"]
    lead, _ = video_track["children"]
    assert lead["OTIO_SCHEMA"] == "Gap.1"
    assert lead["source_range"]["duration"] == {
        "OTIO_SCHEMA": "RationalTime.1",
        "rate": 25.0,
        "value": 50.0,
    }
    silence, line = audio_track["children"]
    assert silence["source_range"]["duration"]["rate"] == RATE_HZ
    assert silence["source_range"]["duration"]["value"] == (2 + Fraction(1, 4)) * RATE_HZ
    assert line["name"] == "line 1.wav"


def test_abutting_lines_get_no_sliver_gap_between_them(tmp_path: Path) -> None:
    video, first, second = _files(tmp_path)
    rate = 25.0  # floats, as Blender reads them: 0.7 + 0.1 falls 1e-16 s short of 0.8
    pieces = [
        DialogueClip(MediaClip("a", str(first), Span(0, 0.1 * rate, rate)), 0.7),
        DialogueClip(MediaClip("b", str(second), Span(0, 0.5 * rate, rate)), 0.8),
    ]
    assert pieces[1].offset_s - (pieces[0].offset_s + pieces[0].clip.used.duration_s) > 0
    timeline = build_job(
        _source(video), pieces, name="S", host="blender", rate=rate, start_frame=0, record_frame=0
    )
    audio = timeline["tracks"]["children"][1]["children"]
    assert [item["OTIO_SCHEMA"] for item in audio] == ["Gap.1", "Clip.2", "Clip.2"]


def test_an_unnamed_clip_is_named_as_its_file_and_no_lead_gap_at_the_start(
    tmp_path: Path,
) -> None:
    video, first, _ = _files(tmp_path)
    windows_path = "C:\\Media\\A012_C004.mov"
    assert file_name(windows_path) == "A012_C004.mov" == file_name(str(video))
    timeline = _flush_job(_source(video, name=""), first)
    video_track = timeline["tracks"]["children"][0]
    assert [item["OTIO_SCHEMA"] for item in video_track["children"]] == ["Clip.2"]
    job = parse_job(job_to_json(timeline))
    assert (job.clip_name, job.record_start_s) == ("A012_C004.mov", 0.0)


def test_a_clip_before_the_timeline_start_is_a_bad_job(tmp_path: Path) -> None:
    video, _, _ = _files(tmp_path)
    with pytest.raises(JobError, match="after the clip") as raised:
        build_job(_source(video), [], name="S", host="h", rate=24, start_frame=10, record_frame=9)
    assert raised.value.code == "bad_job"


def test_reading_the_take_of_a_real_result_timeline(tmp_path: Path) -> None:
    video, first, _ = _files(tmp_path)
    job_json = job_to_json(_flush_job(_source(video), first))
    take = tmp_path / "take.mov"
    result = build_result(parse_job(job_json), take, job_id="j1", model="tiny", settings={})
    timeline = json.loads(otio.adapters.write_to_string(result, "otio_json"))
    (found,) = clips_with_role(timeline, ROLE_RESULT)
    assert media_reference(found)["target_url"] == str(take)
    (source,) = clips_with_role(timeline, ROLE_SOURCE)
    assert source["name"] == "Ana close-up"
    old_style = {"media_reference": {"target_url": "/t.mov"}}  # Clip.1
    assert media_reference(old_style) == {"target_url": "/t.mov"}
    assert media_reference({}) == {}


@pytest.mark.parametrize("timeline", [{}, {"tracks": None}, {"tracks": {"children": [{}]}}, []])
def test_what_is_not_a_timeline_is_a_value_error(timeline: object) -> None:
    with pytest.raises(ValueError, match="not an OTIO timeline"):
        clips_with_role(timeline, ROLE_RESULT)
