"""The job the plugin writes by hand from a (fake) Resolve item, read by the real ``parse_job``."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio
import pytest
from fake_resolve import FREE, STUDIO, FakeBmd, FakeWindow
from resolve_scenario import (
    DIALOGUE_LEAD,
    DURATION,
    LEFT_OFFSET,
    RECORD_START,
    TIMELINE_START,
    Media,
    make_project,
)
from xdub_resolve import collect, dub_clip, link
from xdub_resolve.dialogue import choose_dialogue
from xdub_resolve.dub_clip import gather_job, make_view
from xdub_resolve.host import HostError, ResolveTimeline
from xdub_resolve.job import build_job
from xdub_resolve.progress import ConsoleView
from xdub_resolve.timing import TimingError
from xdub_resolve.xdub_protocol.exceptions import XdubError

from xdub.job.result import build_result
from xdub.job.timeline import parse_job
from xdub.protocol.otio_json import job_to_json


def test_job_carries_the_media_relative_range_and_the_trimmed_dialogue(media: Media) -> None:
    project = make_project(media, STUDIO, (21, 0, 4))
    host = ResolveTimeline(project.resolve)
    job = parse_job(job_to_json(build_job(gather_job(host, project.item, 2))))
    fps = 25
    assert job.video_path == media.video
    assert job.fps == fps
    assert job.start_frame == LEFT_OFFSET  # from the file's first frame, not the start TC
    assert job.num_frames == DURATION
    assert job.record_start_s == pytest.approx((RECORD_START - TIMELINE_START) / fps)
    (segment,) = job.dialogue.segments
    assert segment.path == media.dialogue
    assert segment.offset_s == 0.0
    # the dialogue began DIALOGUE_LEAD record frames early: its head is cut, its tail fits
    assert segment.source_start_s == pytest.approx(DIALOGUE_LEAD / fps, abs=1 / 48000)
    assert segment.duration_s == pytest.approx(DURATION / fps, abs=1 / 48000)
    assert job.host == "resolve"
    assert job.host_ids["item"] == project.item.GetUniqueId()
    assert (job.name, job.clip_name) == (host.name, media.video.name)  # the item's default name
    assert project.app.absent_calls == [] and project.app.limitation_dialogs == []


def test_the_video_clip_is_named_as_the_timeline_item(media: Media) -> None:
    project = make_project(media, FREE, (21, 0, 3), item_name="Ana close-up")
    timeline = build_job(gather_job(ResolveTimeline(project.resolve), project.item, 2))
    assert parse_job(job_to_json(timeline)).clip_name == "Ana close-up"
    audio = timeline["tracks"]["children"][1]
    assert [clip["name"] for clip in audio["children"] if clip["OTIO_SCHEMA"] == "Clip.2"] == [
        media.dialogue.name  # dialogue clips are named as their files
    ]


def test_start_timecode_is_the_origin_of_the_source_range(media: Media) -> None:
    project = make_project(media, FREE, (21, 0, 3))
    spec = gather_job(ResolveTimeline(project.resolve), project.item, 2)
    video = build_job(spec)["tracks"]["children"][0]["children"][-1]
    used = video["source_range"]["start_time"]
    available = video["media_references"]["DEFAULT_MEDIA"]["available_range"]["start_time"]
    assert available["value"] == 90000  # 01:00:00:00 at 25 fps: Resolve's timecode-absolute space
    assert used["value"] - available["value"] == LEFT_OFFSET
    assert spec.raw["left_offset"] == LEFT_OFFSET and spec.raw["record_start"] == RECORD_START


@pytest.mark.parametrize(
    ("speed", "match"),
    [(Fraction(1, 2), "retimed"), (Fraction(2), "retimed"), (Fraction(-1), "reverse")],
)
def test_retimed_and_reversed_clips_are_refused(media: Media, speed: Fraction, match: str) -> None:
    project = make_project(media, STUDIO, (21, 0, 4), speed=speed)
    with pytest.raises(TimingError, match=match):
        gather_job(ResolveTimeline(project.resolve), project.item, 2)


def test_compound_clips_are_refused(media: Media) -> None:
    project = make_project(media, STUDIO, (21, 0, 4), video_type="Compound")
    with pytest.raises(HostError, match="compound"):
        gather_job(ResolveTimeline(project.resolve), project.item, 2)


@pytest.mark.parametrize("speed", [Fraction(1, 2), Fraction(2)])
def test_before_19_1_retimed_clips_are_refused_by_their_offsets(
    media: Media, speed: Fraction
) -> None:
    """18.x has no GetSourceStart/EndFrame: left offset + duration + right offset (warped on a
    retimed clip) must add up to the media's frame count, or the clip is retimed."""
    project = make_project(media, FREE, (18, 6, 0), speed=speed)
    with pytest.raises(TimingError, match="retimed"):
        gather_job(ResolveTimeline(project.resolve), project.item, 2)
    assert project.app.absent_calls == []  # no GetSourceStartFrame call
    normal = make_project(media, FREE, (18, 6, 0))
    gather_job(ResolveTimeline(normal.resolve), normal.item, 2)
    assert normal.app.absent_calls == []


def test_selection_by_version(media: Media) -> None:
    new = make_project(media, STUDIO, (21, 0, 4))
    other = new.timeline.GetItemListInTrack("audio", 1)[0]
    new.timeline.select(other, new.item)
    new.timeline.SetCurrentTimecode("00:00:00:00")  # nothing under the playhead
    assert ResolveTimeline(new.resolve).selected_video_item() is new.item
    old = make_project(media, FREE, (21, 0, 3))  # no GetSelectedClips: the playhead decides
    assert ResolveTimeline(old.resolve).selected_video_item() is old.item
    assert new.app.absent_calls == [] and old.app.absent_calls == []


def test_dialogue_track_named_dub_or_adr_is_the_default(media: Media) -> None:
    assert (
        ResolveTimeline(make_project(media, FREE, (21, 0, 3)).resolve).default_dialogue_track() == 2
    )
    adr = make_project(media, FREE, (21, 0, 3), dialogue_track_name="ADR")
    assert ResolveTimeline(adr.resolve).default_dialogue_track() == 2
    other = make_project(media, FREE, (21, 0, 3), dialogue_track_name="Music")
    assert ResolveTimeline(other.resolve).default_dialogue_track() is None


def test_studio_asks_for_the_dialogue_when_no_track_is_named_dub(media: Media) -> None:
    project = make_project(media, STUDIO, (21, 0, 4), dialogue_track_name="Music")

    def editor(window: FakeWindow, turn: int) -> None:
        window.GetItems()["track"].CurrentIndex = 1
        window.click("ok")

    bmd = FakeBmd(project.resolve, editor)
    host = ResolveTimeline(project.resolve)
    namespace = {"resolve": project.resolve, "fusion": project.resolve.Fusion(), "bmd": bmd}
    view = make_view(namespace, host, print)
    assert choose_dialogue(host, project.item, view, print) == 2
    (window,) = bmd.dispatcher.windows
    assert window.GetItems()["track"].entries == ["A1: Audio 1", "A2: Music"]


def test_free_says_how_to_name_the_dialogue_track(media: Media) -> None:
    project = make_project(media, FREE, (21, 0, 3), dialogue_track_name="Music")
    host = ResolveTimeline(project.resolve)
    namespace = {
        "resolve": project.resolve,
        "fusion": project.resolve.Fusion(),
        "bmd": FakeBmd(project.resolve),
    }
    view = make_view(namespace, host, print)
    with pytest.raises(HostError, match="'Dub'"):
        choose_dialogue(host, project.item, view, print)
    assert project.app.limitation_dialogs == []  # UIManager was never read on free


def _result(media: Media, tmp_path: Path) -> dict[str, Any]:
    project = make_project(media, STUDIO, (21, 0, 4))
    job = parse_job(
        job_to_json(build_job(gather_job(ResolveTimeline(project.resolve), project.item, 2)))
    )
    result = build_result(job, tmp_path / "take.mov", job_id="j1", model="m", settings={})
    return dict(json.loads(otio.adapters.write_to_string(result, "otio_json")))


def test_the_take_is_read_strictly(media: Media, tmp_path: Path) -> None:
    """Collect and Dub clip read takes with the protocol's one reader: every field checked."""
    result = _result(media, tmp_path)
    take = collect.read_take(json.dumps(result))
    assert link.read_take is collect.read_take  # Dub clip reads through link.local_take
    assert (take.job_id, take.path, take.num_frames) == ("j1", str(tmp_path / "take.mov"), DURATION)
    assert take.first_frame == 0 and take.host == "resolve"  # the take file is the used range
    twice = json.loads(json.dumps(result))
    twice["tracks"]["children"].append(twice["tracks"]["children"][-1])
    with pytest.raises(XdubError, match="2 clips with role 'result'"):
        collect.read_take(json.dumps(twice))
    del result["tracks"]["children"][-1]["children"][-1]["source_range"]
    with pytest.raises(XdubError, match="source_range") as caught:
        collect.read_take(json.dumps(result))
    assert caught.value.code == "bad_job"


def test_linked_production_audio_is_never_the_dialogue(media: Media) -> None:
    """Linked Selection selects the clip's own A1 sound with it: the "Dub" track still wins."""
    project = make_project(media, STUDIO, (21, 0, 4))
    project.timeline.select(project.item)
    assert len(project.timeline.GetSelectedClips()) == 2  # the picture and its linked sound
    host = ResolveTimeline(project.resolve)
    assert choose_dialogue(host, project.item, ConsoleView(print), print) == 2
    project.timeline.select(project.item, project.dialogue)  # a chosen dialogue clip decides
    assert choose_dialogue(host, project.item, ConsoleView(print), print) == 2


def test_the_ask_list_starts_after_the_clips_own_sound(media: Media) -> None:
    project = make_project(media, STUDIO, (21, 0, 4), dialogue_track_name="Music")
    bmd = FakeBmd(project.resolve, lambda window, turn: window.click("ok"))
    host = ResolveTimeline(project.resolve)
    namespace = {"resolve": project.resolve, "fusion": project.resolve.Fusion(), "bmd": bmd}
    assert choose_dialogue(host, project.item, make_view(namespace, host, print), print) == 2


def test_on_the_media_page_the_error_says_which_page_to_use(media: Media) -> None:
    project = make_project(media, FREE, (21, 0, 3))  # no GetSelectedClips: the playhead decides
    project.app.page = "media"
    with pytest.raises(HostError, match="Edit or Cut page"):
        ResolveTimeline(project.resolve).selected_video_item()


def test_a_bad_take_folder_is_refused_before_the_daemon_is_asked(
    media: Media, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stdlib precheck (``xdub_protocol.precheck``) runs before any request: no daemon is
    running here, yet the error is about the folder."""
    project = make_project(media, FREE, (21, 0, 3))
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setattr(dub_clip, "job_options", lambda: {"output_dir": str(blocker)})
    said: list[str] = []
    namespace = {"resolve": project.resolve}
    code = dub_clip.run(namespace, write=said.append, connection_file=tmp_path / "none.json")
    assert code == 1
    assert "is a file, not a folder for the take" in said[-1], said
