"""The result timeline: the take on a new video track, aligned with the source, namespaces kept."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import opentimelineio as otio
import pytest
from opentimelineio.opentime import RationalTime, TimeRange

from xdub.errors import JobError
from xdub.job.result import RESULT_TRACK_NAME, build_result, parse_result
from xdub.job.timeline import DialogueClip, SourceClip, build_job, job_to_json, parse_job

FPS = 25.0
RESOLVE_TIMELINE = {"Resolve OTIO Meta Version": "1.0"}
RESOLVE_CLIP = {"Link Group ID": 1, "Channels": [{"Source Channel ID": 0, "Source Track ID": 1}]}


def _resolve_job(tmp_path: Path) -> str:
    """A job as a Resolve plugin would send it, with Resolve_OTIO metadata on everything."""
    video, audio = tmp_path / "clip.mov", tmp_path / "line.wav"
    video.write_bytes(b"")
    audio.write_bytes(b"")
    timeline = build_job(
        SourceClip(
            video,
            TimeRange(RationalTime(90_000 + 25, FPS), RationalTime(77, FPS)),
            record_start=RationalTime(40, FPS),
        ),
        [
            DialogueClip(
                audio, TimeRange(RationalTime(0, FPS), RationalTime(77, FPS)), RationalTime(0, FPS)
            )
        ],
        name="Scene 12",
        host="resolve",
        host_ids={"timeline_item": "9f1c", "media_pool_item": "77ab"},
        global_start_time=RationalTime(90_000, FPS),
    )
    timeline.metadata["Resolve_OTIO"] = RESOLVE_TIMELINE
    for track in timeline.tracks:
        track.metadata["Resolve_OTIO"] = {"Locked": False}
        for item in track:
            if isinstance(item, otio.schema.Clip):
                item.metadata["Resolve_OTIO"] = RESOLVE_CLIP
    return job_to_json(timeline)


def test_result_round_trips_and_aligns_with_the_source(tmp_path: Path) -> None:
    job = parse_job(_resolve_job(tmp_path))
    take = tmp_path / "out" / "clip_xdub.mov"
    settings = {"codec": "prores_422_hq", "num_steps": 30, "seed": 1234}
    result_json = job_to_json(
        build_result(job, take, job_id="j1", model="x-dub-wan5b", settings=settings, warnings=["w"])
    )
    result = parse_result(result_json)
    assert (result.job_id, result.take_path, result.model) == ("j1", take, "x-dub-wan5b")
    assert result.settings == settings
    assert result.warnings == ("w",)
    assert result.record_start_s == pytest.approx(job.record_start_s)
    assert result.source_range.start_time.to_frames() == 90_000 + 25  # the take keeps the TC
    assert result.source_range.duration.to_frames() == job.num_frames

    timeline = otio.adapters.read_from_string(result_json, "otio_json")
    assert [track.name for track in timeline.video_tracks()] == ["Video 1", RESULT_TRACK_NAME]
    assert dict(timeline.metadata["Resolve_OTIO"]) == RESOLVE_TIMELINE
    source = next(c for c in timeline.video_tracks()[0] if isinstance(c, otio.schema.Clip))
    assert source.metadata["Resolve_OTIO"]["Link Group ID"] == 1
    assert timeline.global_start_time.to_frames() == 90_000
    take_clip = next(c for c in timeline.video_tracks()[1] if isinstance(c, otio.schema.Clip))
    assert take_clip.range_in_parent() == source.range_in_parent()


def test_a_draft_take_is_named_and_marked_draft(tmp_path: Path) -> None:
    job = parse_job(_resolve_job(tmp_path))
    speed = {"preset": "draft", "is_draft": True, "num_steps": 10, "skipped_steps": 2}
    timeline = build_result(
        job, tmp_path / "t.mov", job_id="j1", model="m", settings={}, speed=speed
    )
    result = parse_result(job_to_json(timeline))
    assert result.is_draft and result.speed == speed
    take_clip = next(c for c in timeline.video_tracks()[1] if isinstance(c, otio.schema.Clip))
    assert take_clip.name.endswith("(xdub draft)")
    final = build_result(job, tmp_path / "t.mov", job_id="j2", model="m", settings={})
    assert not parse_result(job_to_json(final)).is_draft


def test_a_relative_take_path_is_refused(tmp_path: Path) -> None:
    job = parse_job(_resolve_job(tmp_path))
    with pytest.raises(JobError):
        build_result(job, Path("take.mov"), job_id="j1", model="m", settings={})


def test_a_timeline_without_a_take_is_not_a_result(tmp_path: Path) -> None:
    with pytest.raises(JobError) as caught:
        parse_result(_resolve_job(tmp_path))
    assert caught.value.code == "bad_job"


def _result_object(tmp_path: Path) -> dict[str, Any]:
    job = parse_job(_resolve_job(tmp_path))
    result = build_result(job, tmp_path / "take.mov", job_id="j1", model="m", settings={})
    return dict(json.loads(job_to_json(result)))


def _take(result: dict[str, Any]) -> dict[str, Any]:
    return dict(result["tracks"]["children"][-1]["children"][-1])


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda take: take["metadata"]["xdub"].pop("job_id"), "job_id"),
        (lambda take: take["media_references"]["DEFAULT_MEDIA"].pop("target_url"), "target_url"),
        (lambda take: take.pop("source_range"), "source_range"),
        (lambda take: take["source_range"]["duration"].update(rate=0), "rate"),
    ],
)
def test_a_damaged_take_is_a_clear_bad_job(
    tmp_path: Path, damage: Callable[[dict[str, Any]], object], match: str
) -> None:
    """The daemon reads takes with the hosts' one strict reader (``xdub.protocol.takes``)."""
    result = _result_object(tmp_path)
    damage(result["tracks"]["children"][-1]["children"][-1])
    with pytest.raises(JobError, match=match) as caught:
        parse_result(json.dumps(result))
    assert caught.value.code == "bad_job" and caught.value.hint


def test_two_takes_are_refused(tmp_path: Path) -> None:
    result = _result_object(tmp_path)
    result["tracks"]["children"].append(result["tracks"]["children"][-1])
    with pytest.raises(JobError, match="2 clips with role 'result'"):
        parse_result(json.dumps(result))
