"""The OTIO job: build -> JSON -> parse round trips, the dialogue plan, one test per invalid job."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import opentimelineio as otio
import pytest
from opentimelineio.opentime import RationalTime, TimeRange

from xdub.errors import JobError
from xdub.job.timeline import (
    SPAN_TOLERANCE_S,
    DialogueClip,
    DialogueSegment,
    SilenceGap,
    SourceClip,
    build_job,
    job_to_json,
    parse_job,
    plan_dialogue_span,
)

NTSC_FPS = 24000 / 1001
SAMPLE_RATE_HZ = 48000
TC_ONE_HOUR = 86400  # 01:00:00:00 at 24 (non-drop) frames per second
SECONDS_ATOL = 1e-6  # float seconds of rational rates (24000/1001 fps, 48 kHz)


def _touch(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def _samples(seconds: float) -> RationalTime:
    return RationalTime(round(seconds * SAMPLE_RATE_HZ), SAMPLE_RATE_HZ)


def _source(tmp_path: Path, *, num_frames: int = 100, record_frame: int = 50) -> SourceClip:
    """A 23.976 fps clip whose media starts at TC 01:00:00:00, used from its 10th frame."""
    return SourceClip(
        path=_touch(tmp_path / "A012_C004.mov"),
        source_range=TimeRange(
            RationalTime(TC_ONE_HOUR + 10, NTSC_FPS), RationalTime(num_frames, NTSC_FPS)
        ),
        available_range=TimeRange(RationalTime(TC_ONE_HOUR, NTSC_FPS), RationalTime(500, NTSC_FPS)),
        record_start=RationalTime(record_frame, NTSC_FPS),
    )


def _line(
    tmp_path: Path, name: str, start_s: float, duration_s: float, offset_s: float
) -> DialogueClip:
    return DialogueClip(
        path=_touch(tmp_path / name),
        source_range=TimeRange(_samples(start_s), _samples(duration_s)),
        offset=_samples(offset_s),
        available_range=TimeRange(_samples(0.0), _samples(30.0)),
    )


def _job_json(tmp_path: Path, dialogue: list[DialogueClip] | None = None) -> str:
    source = _source(tmp_path)
    lines = dialogue or [
        _line(tmp_path, "take3.wav", 0.0, source.source_range.duration.to_seconds(), 0.0)
    ]
    timeline = build_job(
        source, lines, name="Scene 12", host="resolve", host_ids={"timeline_item": "9f1c"}
    )
    return job_to_json(timeline)


def test_one_line_round_trips(tmp_path: Path) -> None:
    source = _source(tmp_path)
    job = parse_job(_job_json(tmp_path))
    assert (job.name, job.host, job.host_ids) == ("Scene 12", "resolve", {"timeline_item": "9f1c"})
    assert job.video_path == source.path
    assert job.fps == pytest.approx(NTSC_FPS)
    assert (job.start_frame, job.num_frames) == (10, round(source.source_range.duration.value))
    assert job.record_start_s == pytest.approx(50 / NTSC_FPS, abs=SECONDS_ATOL)
    assert job.dialogue.duration_s == pytest.approx(job.duration_s, abs=SECONDS_ATOL)
    (segment,) = job.dialogue.segments
    assert segment.path == tmp_path / "take3.wav"
    assert segment.offset_s == pytest.approx(0.0, abs=SECONDS_ATOL)
    assert segment.duration_s == pytest.approx(job.duration_s, abs=SPAN_TOLERANCE_S)
    assert job.dialogue.gaps == () and job.warnings == ()


def test_several_lines_at_mixed_rates_leave_gaps_of_silence(tmp_path: Path) -> None:
    second = _line(tmp_path, "b.wav", 3.0, 1.0, 2.5)
    second_in_frames = DialogueClip(  # the same line, timed at 25 fps instead of 48 kHz
        second.path, TimeRange(RationalTime(75, 25), RationalTime(25, 25)), RationalTime(62.5, 25)
    )
    for line in (second, second_in_frames):
        job = parse_job(_job_json(tmp_path, [_line(tmp_path, "a.wav", 0.5, 1.5, 0.0), line]))
        assert [s.path.name for s in job.dialogue.segments] == ["a.wav", "b.wav"]
        timings = [t for s in job.dialogue.segments for t in (s.source_start_s, s.duration_s)]
        offsets = [s.offset_s for s in job.dialogue.segments]
        assert timings == pytest.approx([0.5, 1.5, 3.0, 1.0], abs=SECONDS_ATOL)
        assert offsets == pytest.approx([0.0, 2.5], abs=SECONDS_ATOL)
        gaps = [t for gap in job.dialogue.gaps for t in (gap.offset_s, gap.duration_s)]
        assert gaps == pytest.approx([1.5, 1.0, 3.5, job.duration_s - 3.5], abs=SECONDS_ATOL)
        assert "silence" in job.warnings[0]


def test_plan_orders_segments_and_finds_every_gap() -> None:
    segments = [
        DialogueSegment(Path("/b"), 0.0, 1.0, 3.0),
        DialogueSegment(Path("/a"), 0.0, 1.0, 1.0),
    ]
    plan = plan_dialogue_span(segments, 5.0)
    assert [s.path for s in plan.segments] == [Path("/a"), Path("/b")]
    assert plan.gaps == (SilenceGap(0.0, 1.0), SilenceGap(2.0, 1.0), SilenceGap(4.0, 1.0))


def test_file_urls_are_accepted(tmp_path: Path) -> None:
    text = _job_json(tmp_path).replace(f'"{tmp_path}/A012', f'"file://{tmp_path}/A012')
    assert "file://" in text
    assert parse_job(text).video_path == tmp_path / "A012_C004.mov"


def test_missing_files_may_be_left_unchecked(tmp_path: Path) -> None:
    text = _job_json(tmp_path)
    (tmp_path / "A012_C004.mov").unlink()
    assert parse_job(text, check_files=False).video_path == tmp_path / "A012_C004.mov"


# ---------------------------------------------------------------------------------------------
# Invalid jobs: one test each, with the message that names the problem


def _mutated(tmp_path: Path, change: Callable[[Any], object]) -> str:
    timeline = otio.adapters.read_from_string(_job_json(tmp_path), "otio_json")
    change(timeline)
    return job_to_json(timeline)


def _video_clip(timeline: Any) -> Any:
    return next(c for c in timeline.video_tracks()[0] if isinstance(c, otio.schema.Clip))


def _audio_clip(timeline: Any) -> Any:
    return next(c for c in timeline.audio_tracks()[0] if isinstance(c, otio.schema.Clip))


def _set(obj: Any, name: str, value: Any) -> None:
    setattr(obj, name, value)


def _second_clip(timeline: Any) -> None:
    track = timeline.video_tracks()[0]
    track.append(_video_clip(timeline).clone())


def _second_video_track(timeline: Any) -> None:
    timeline.tracks.append(otio.schema.Track(name="Video 2", kind=otio.schema.TrackKind.Video))


def _transition(timeline: Any) -> None:
    timeline.video_tracks()[0].insert(0, otio.schema.Transition())


def _retime(timeline: Any) -> None:
    _video_clip(timeline).effects.append(otio.schema.LinearTimeWarp(time_scalar=2.0))


def _shifted_dialogue(frames: int) -> Callable[[Any], None]:
    def change(timeline: Any) -> None:
        track = timeline.audio_tracks()[0]
        track.insert(0, otio.schema.Gap(duration=RationalTime(frames, NTSC_FPS)))

    return change


def _early_dialogue(timeline: Any) -> None:
    first = timeline.audio_tracks()[0][0]  # the gap up to the record start
    first.source_range = TimeRange(duration=first.source_range.duration - RationalTime(5, NTSC_FPS))


INVALID: dict[str, tuple[Callable[[Any], Any], str]] = {
    "no video track": (lambda t: t.tracks.remove(t.video_tracks()[0]), "no video track"),
    "two video tracks": (_second_video_track, "2 video tracks"),
    "two clips on V1": (_second_clip, "holds 2 clips"),
    "no clip on V1": (lambda t: t.video_tracks()[0].remove(_video_clip(t)), "holds 0 clips"),
    "a transition": (_transition, "transition"),
    "a retimed clip": (_retime, "retimed"),
    "a disabled clip": (lambda t: _set(_video_clip(t), "enabled", False), "disabled"),
    "not an ExternalReference": (
        lambda t: _set(_video_clip(t), "media_reference", otio.schema.MissingReference()),
        "MissingReference",
    ),
    "a relative path": (
        lambda t: _set(_video_clip(t).media_reference, "target_url", "media/A012.mov"),
        "not absolute",
    ),
    "a missing file": (
        lambda t: _set(_video_clip(t).media_reference, "target_url", "/nonexistent/A012.mov"),
        "does not exist",
    ),
    "a wrong role": (
        lambda t: _video_clip(t).metadata["xdub"].update(role="dialogue"),
        "role 'dialogue'",
    ),
    "a negative duration": (
        lambda t: _set(
            _video_clip(t),
            "source_range",
            TimeRange(RationalTime(TC_ONE_HOUR, NTSC_FPS), RationalTime(-5, NTSC_FPS)),
        ),
        "negative",
    ),
    "a source before its media": (
        lambda t: _set(
            _video_clip(t),
            "source_range",
            TimeRange(RationalTime(10, NTSC_FPS), RationalTime(100, NTSC_FPS)),
        ),
        "before its media",
    ),
    "a source past its media": (
        lambda t: _set(
            _video_clip(t),
            "source_range",
            TimeRange(RationalTime(TC_ONE_HOUR + 450, NTSC_FPS), RationalTime(100, NTSC_FPS)),
        ),
        "more than its media holds",
    ),
    "no audio track": (lambda t: t.tracks.remove(t.audio_tracks()[0]), "no audio track"),
    "dialogue starting before the clip": (_early_dialogue, "before the video clip"),
    "dialogue ending after the clip": (_shifted_dialogue(3), "after the video clip"),
    "no dialogue under the clip": (
        lambda t: t.audio_tracks()[0].remove(_audio_clip(t)),
        "no dialogue clip",
    ),
    "no xdub metadata": (lambda t: t.metadata.pop("xdub"), "not an xdub job"),
    "a newer schema": (lambda t: t.metadata["xdub"].update(schema=2), "newer"),
    "no host": (lambda t: t.metadata["xdub"].pop("host"), "host"),
}


@pytest.mark.parametrize(("change", "message"), INVALID.values(), ids=INVALID.keys())
def test_invalid_job_is_refused_with_a_precise_message(
    tmp_path: Path, change: Callable[[Any], Any], message: str
) -> None:
    with pytest.raises(JobError) as caught:
        parse_job(_mutated(tmp_path, change))
    assert caught.value.code == "bad_job"
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        json.dumps({"OTIO_SCHEMA": "Timeline.1"}),
        "[]",
        job_to_json(otio.schema.Clip(name="a clip")),
    ],
)
def test_text_that_is_not_an_otio_timeline_is_refused(text: str) -> None:
    with pytest.raises(JobError) as caught:
        parse_job(text)
    assert caught.value.code == "bad_job"
