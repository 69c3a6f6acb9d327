"""The extension's hand-written OTIO JSON is read by the real ``xdub.job.timeline.parse_job``, and
its reader understands what ``xdub.job.result.build_result`` writes."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from xdub.job.result import build_result
from xdub.job.timeline import parse_job


def make_job(tmp_path: Path, timing: ModuleType, job_json: ModuleType) -> tuple[str, Path]:
    video = tmp_path / "A001 clip.mp4"
    video.write_bytes(b"")
    wavs = [tmp_path / "line1.wav", tmp_path / "line2.wav"]
    for wav in wavs:
        wav.write_bytes(b"")
    picture = timing.movie_span(
        timing.StripTiming("A001", 90.0, 100, 150, frame_duration=75), 25.0, 25.0
    )
    sounds = [
        timing.SoundStripTiming(timing.StripTiming("l1", 95.0, 104, 120, 0, 0, 40), str(wavs[0])),
        timing.SoundStripTiming(
            timing.StripTiming("l2", 130.0, 130, 160, 0, 0, 30), str(wavs[1]), 0.5
        ),
    ]
    pieces = timing.dialogue_pieces(picture, sounds, 25.0)
    timeline = job_json.build_job(
        "Scene",
        str(video),
        picture,
        pieces,
        clip_name="A001",
        timeline_start=1,
        host_ids={"strip": "A001"},
    )
    return job_json.otio_json.job_to_json(timeline), video


def test_job_parses_with_the_real_otio_reader(
    tmp_path: Path, timing: ModuleType, job_json: ModuleType
) -> None:
    text, video = make_job(tmp_path, timing, job_json)
    job = parse_job(text)
    assert (job.name, job.host, job.host_ids) == ("Scene", "blender", {"strip": "A001"})
    assert job.clip_name == "A001"  # the strip's name, not its file's ("A001 clip.mp4")
    assert job.video_path == video and job.fps == 25.0
    assert (job.start_frame, job.num_frames) == (10, 50)  # left handle 10 frames into the file
    assert job.record_start_s == pytest.approx(99 / 25)  # 99 frames after the timeline start 1
    first, second = job.dialogue.segments
    assert first.path.name == "line1.wav"
    assert (first.offset_s, first.source_start_s) == (pytest.approx(4 / 25), pytest.approx(9 / 25))
    assert first.duration_s == pytest.approx(16 / 25)
    assert second.offset_s == pytest.approx(30 / 25)
    assert second.source_start_s == pytest.approx(0.5)  # only the sound offset
    assert second.duration_s == pytest.approx(20 / 25)  # clipped at the picture's end
    gaps = [(gap.offset_s, gap.duration_s) for gap in job.dialogue.gaps]
    assert gaps == [(0.0, pytest.approx(4 / 25)), (pytest.approx(20 / 25), pytest.approx(10 / 25))]


def test_job_starting_at_the_timeline_start_has_no_leading_gap(
    tmp_path: Path, timing: ModuleType, job_json: ModuleType
) -> None:
    video = tmp_path / "v.mov"
    video.write_bytes(b"")
    picture = timing.movie_span(timing.StripTiming("v", 1.0, 1, 26, frame_duration=25), 24.0, 24.0)
    pieces = timing.file_dialogue(picture, str(video))
    timeline = job_json.build_job(
        "S", str(video), picture, pieces, clip_name="v", timeline_start=1, host_ids={}
    )
    assert timeline["tracks"]["children"][0]["children"][0]["OTIO_SCHEMA"] == "Clip.2"
    job = parse_job(job_json.otio_json.job_to_json(timeline))
    assert (job.record_start_s, job.num_frames, job.fps) == (0.0, 25, 24.0)


def test_timeline_start_after_the_clip_is_refused(timing: ModuleType, job_json: ModuleType) -> None:
    picture = timing.movie_span(timing.StripTiming("v", 1.0, 1, 26, frame_duration=25), 24.0, 24.0)
    with pytest.raises(Exception, match="after the clip") as raised:
        job_json.build_job("S", "/v.mov", picture, [], clip_name="v", timeline_start=5, host_ids={})
    assert raised.value.code == "bad_job"


def test_take_of_a_real_result_timeline(
    tmp_path: Path, timing: ModuleType, job_json: ModuleType, takes: ModuleType
) -> None:
    text, _ = make_job(tmp_path, timing, job_json)
    job = parse_job(text)
    take_path = tmp_path / "take.mov"
    result = build_result(
        job, take_path, job_id="j1", model="tiny", settings={"num_steps": 2}, warnings=["w"]
    )
    import opentimelineio as otio

    take = takes.read_take(otio.adapters.write_to_string(result, "otio_json"))
    assert take.path == str(take_path)
    assert (take.first_frame, take.rate, take.model) == (0, 25, "tiny")
    assert take.settings == {"num_steps": 2} and take.warnings == ("w",)


def test_unreadable_result_is_a_job_error(takes: ModuleType) -> None:
    with pytest.raises(Exception, match="not an OTIO Timeline.1") as raised:
        takes.read_take("{}")
    assert raised.value.code == "bad_job"
    empty = '{"OTIO_SCHEMA": "Timeline.1", "tracks": {"children": [{"children": []}]}}'
    with pytest.raises(Exception, match="has 0 clips with role 'result'"):
        takes.read_take(empty)


def test_a_take_without_a_file_is_a_clear_bad_job(
    tmp_path: Path, timing: ModuleType, job_json: ModuleType, takes: ModuleType
) -> None:
    """The extension reads takes with the protocol's one strict reader."""
    import json

    import opentimelineio as otio

    text, _ = make_job(tmp_path, timing, job_json)
    result = build_result(parse_job(text), tmp_path / "t.mov", job_id="j1", model="m", settings={})
    damaged = json.loads(otio.adapters.write_to_string(result, "otio_json"))
    del damaged["tracks"]["children"][-1]["children"][-1]["media_references"]["DEFAULT_MEDIA"][
        "target_url"
    ]
    with pytest.raises(Exception, match="target_url") as raised:
        takes.read_take(json.dumps(damaged))
    assert raised.value.code == "bad_job"
