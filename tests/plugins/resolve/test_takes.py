"""Putting a take back: Take Selector, the new-track fallback, and its verification."""

from __future__ import annotations

import dataclasses
import shutil
from fractions import Fraction
from pathlib import Path

import pytest
from fake_resolve import FREE, STUDIO, FakeTimeline, FakeTimelineItem
from resolve_scenario import DURATION, RECORD_START, Media, Project, make_project
from xdub_resolve import collect
from xdub_resolve.host import HostError, ResolveTimeline
from xdub_resolve.takes import PLACED_AS_TAKE, PLACED_ON_TRACK, place_take
from xdub_resolve.xdub_protocol.takes import Take


def _take(media: Media, tmp_path: Path) -> Take:
    path = tmp_path / "take.mp4"
    shutil.copy(media.video, path)  # a real file with the source's rate and length
    return Take(
        job_id="job42",
        path=str(path),
        rate=Fraction(25),
        first_frame=0,
        start_tc_frame=0,
        num_frames=DURATION,
        record_start_s=Fraction(0),
        host="resolve",
    )


class NoTakeSelector(FakeTimelineItem):
    """An item whose ``AddTake`` is refused, as Resolve may for some items."""

    def AddTake(self, *args: object) -> bool:  # noqa: N802
        return False


class StuckTrack(FakeTimeline):
    """``AddTrack`` says yes but adds nothing: the append lands on the occupied top track."""

    def AddTrack(self, kind: str, sub_type: str | None = None) -> bool:  # noqa: N802
        return True


def test_take_goes_into_the_xdub_bin_and_the_take_selector(media: Media, tmp_path: Path) -> None:
    project = make_project(media, FREE, (21, 0, 3))
    host = ResolveTimeline(project.resolve)
    take = _take(media, tmp_path)
    assert place_take(host, project.item, take) == PLACED_AS_TAKE
    assert project.item.GetTakesCount() == 2 and project.item.GetSelectedTakeIndex() == 2
    assert project.item.GetMediaPoolItem().GetClipProperty("File Path") == take.path
    assert host.has_take(project.item, take.path)
    assert project.app.absent_calls == [] and project.app.limitation_dialogs == []


def test_without_a_take_selector_the_take_goes_on_a_new_track_at_the_same_frame(
    media: Media, tmp_path: Path
) -> None:
    project = make_project(media, STUDIO, (21, 0, 4))
    timeline = project.timeline
    pool_item = project.item.GetMediaPoolItem()
    item = NoTakeSelector(
        project.app,
        timeline,
        pool_item,
        record_start=RECORD_START + 100,
        duration=DURATION,
        left_offset=0,
    )
    assert timeline.place("video", 1, item)
    host = ResolveTimeline(project.resolve)
    take = _take(media, tmp_path)
    assert place_take(host, item, take) == PLACED_ON_TRACK
    (placed,) = timeline.GetItemListInTrack("video", 2)
    frames = int(placed.GetMediaPoolItem().GetClipProperty("Frames"))
    assert placed.GetStart() == item.GetStart()
    assert placed.GetDuration() == frames  # endFrame exclusive: the whole take, not one less
    assert placed.GetMarkers()[0]["customData"] == "xdub:job42"
    assert placed.GetMediaPoolItem().GetThirdPartyMetadata("xdub_job_id") == "job42"
    assert host.has_take(item, take.path)  # "Collect" will not place it twice


def _bare_item(project: Project, record_start: int) -> NoTakeSelector:
    """A V1 item without a take selector at ``record_start``: its takes need a track."""
    item = NoTakeSelector(
        project.app,
        project.timeline,
        project.item.GetMediaPoolItem(),
        record_start=record_start,
        duration=DURATION,
        left_offset=0,
    )
    assert project.timeline.place("video", 1, item)
    return item


def _take_at(media: Media, folder: Path, job_id: str) -> Take:
    folder.mkdir()
    return dataclasses.replace(_take(media, folder), job_id=job_id)


def test_later_takes_reuse_the_takes_track_where_it_is_free(media: Media, tmp_path: Path) -> None:
    """The first take adds V2; the takes of another item, and a second take of the first
    one over the same frames, go to V2 while it is free there, else to a new track."""
    project = make_project(media, STUDIO, (21, 0, 4))
    first, second = (_bare_item(project, RECORD_START + at) for at in (100, 100 + 2 * DURATION))
    host = ResolveTimeline(project.resolve)
    timeline = project.timeline
    place_take(host, first, _take_at(media, tmp_path / "a", "job-a"))
    assert timeline.GetTrackCount("video") == 2
    place_take(host, second, _take_at(media, tmp_path / "b", "job-b"))
    assert timeline.GetTrackCount("video") == 2  # reused: V2 holds only takes
    assert [i.GetStart() for i in timeline.GetItemListInTrack("video", 2)] == [
        first.GetStart(),
        second.GetStart(),
    ]
    place_take(host, first, _take_at(media, tmp_path / "c", "job-c"))  # V2 is busy there
    assert timeline.GetTrackCount("video") == 3
    (again,) = timeline.GetItemListInTrack("video", 3)
    assert again.GetStart() == first.GetStart()


def test_a_track_the_editor_named_xdub_takes_the_take(media: Media, tmp_path: Path) -> None:
    """Not V2 (the editor's B-roll), not a disabled "xdub" track: the enabled one above."""
    project = make_project(media, STUDIO, (21, 0, 4))
    item = _bare_item(project, RECORD_START + 100)
    timeline = project.timeline
    timeline.add_track("video", "B-roll")
    broll = NoTakeSelector(
        project.app, timeline, item.GetMediaPoolItem(), record_start=0, duration=1, left_offset=0
    )
    assert timeline.place("video", 2, broll)  # V2 holds a clip that is not a take
    timeline.add_track("video", "XDUB", enabled=False)
    named = timeline.add_track("video", "xdub")
    assert place_take(ResolveTimeline(project.resolve), item, _take(media, tmp_path)) == (
        PLACED_ON_TRACK
    )
    assert timeline.GetTrackCount("video") == named == 4
    (placed,) = timeline.GetItemListInTrack("video", named)
    assert placed.GetStart() == item.GetStart()


def test_a_silently_dropped_append_is_caught_by_re_reading(media: Media, tmp_path: Path) -> None:
    project = make_project(media, STUDIO, (21, 0, 4))
    stuck = StuckTrack(project.app, "Timeline 1", "25", project.timeline.GetStartFrame())
    stuck._tracks = project.timeline._tracks
    project.resolve.GetProjectManager().GetCurrentProject()._timeline = stuck
    item = NoTakeSelector(
        project.app,
        stuck,
        project.item.GetMediaPoolItem(),
        record_start=RECORD_START + 100,
        duration=DURATION,
        left_offset=0,
    )
    assert stuck.place("video", 1, item)
    host = ResolveTimeline(project.resolve)
    with pytest.raises(HostError, match="drops overlapping"):
        place_take(host, item, _take(media, tmp_path))
    assert [i.GetStart() for i in stuck.GetItemListInTrack("video", 1)] == [
        RECORD_START,
        RECORD_START + 100,
    ]


def test_studio_only_call_on_free_raises_the_limitation_dialog(media: Media) -> None:
    """The fake's gate: the e2e tests assert no dialog, so a gated call would fail them."""
    project = make_project(media, FREE, (21, 0, 3))
    assert project.timeline.GenerateSpeech() is False
    assert project.app.limitation_dialogs == ["GenerateSpeech"]
    assert project.timeline.GetTrackCount("video") is False  # the modal dialog blocks every call
    fresh = make_project(media, FREE, (21, 0, 3))
    assert fresh.resolve.Fusion().UIManager is None  # no script GUI on free since 19.1...
    assert fresh.app.limitation_dialogs == ["UIManager"]  # ...and reading it shows the upsell
    old = make_project(media, FREE, (19, 0, 0))
    assert old.resolve.Fusion().UIManager is not None and old.app.limitation_dialogs == []


def test_the_fake_hides_methods_newer_than_its_version(media: Media) -> None:
    project = make_project(media, FREE, (21, 0, 3))
    assert hasattr(project.timeline, "GetSelectedClips")  # always true, as in Resolve
    assert "GetSelectedClips" not in dir(project.timeline)
    assert project.timeline.GetSelectedClips() is None
    assert project.app.absent_calls == ["GetSelectedClips"]


def _take_of(media: Media, tmp_path: Path, job_id: str) -> Take:
    path = tmp_path / f"take-{job_id}.mp4"
    shutil.copy(media.video, path)
    return dataclasses.replace(_take(media, tmp_path), job_id=job_id, path=str(path))


def _markers(item: FakeTimelineItem) -> dict[int, str]:
    return {frame: marker["customData"] for frame, marker in item.GetMarkers().items()}


def test_every_take_gets_its_own_marker_on_a_free_frame(media: Media, tmp_path: Path) -> None:
    project = make_project(media, STUDIO, (21, 0, 4))
    project.item.AddMarker(0, "Blue", "mine", "the editor's own", 1, "")
    host = ResolveTimeline(project.resolve)
    for job_id in ("a", "b"):
        assert place_take(host, project.item, _take_of(media, tmp_path, job_id)) == PLACED_AS_TAKE
    assert _markers(project.item) == {0: "", 1: "xdub:a", 2: "xdub:b"}


def test_a_refused_marker_is_said(media: Media, tmp_path: Path) -> None:
    project = make_project(media, STUDIO, (21, 0, 4))
    host = ResolveTimeline(project.resolve)
    for frame in range(DURATION):  # every frame of the item has a marker already
        project.item.AddMarker(frame, "Blue", "mine", "", 1, "")
    said: list[str] = []
    take = _take_of(media, tmp_path, "a")
    assert place_take(host, project.item, take, write=said.append) == PLACED_AS_TAKE
    assert project.item.GetTakesCount() == 2  # the take is placed all the same
    assert said and "marker" in said[0] and "job a" in said[0]


def test_collect_places_in_job_order_and_keeps_the_newest_selected(
    media: Media, tmp_path: Path
) -> None:
    """Job A closed early, job B (newer) was placed and selected: collecting A adds it as a take
    but leaves B selected."""
    project = make_project(media, STUDIO, (21, 0, 4))
    host = ResolveTimeline(project.resolve)
    item = project.item
    ids = {"project": "Film", "timeline": host.name, "item": item.GetUniqueId()}
    older, newer = (
        dataclasses.replace(_take_of(media, tmp_path, job_id), host_ids=ids) for job_id in "ab"
    )
    assert host.project.GetName() == "Film"
    place_take(host, item, newer)
    assert item.GetSelectedTakeIndex() == 2
    said: list[str] = []
    jobs = [(newer, "2026-03-14T10:00:00Z"), (older, "2026-03-14T09:00:00Z")]  # newest first
    assert collect.place_finished(host, jobs, said.append) == 1
    assert item.GetTakesCount() == 3
    selected = item.GetMediaPoolItem().GetClipProperty("File Path")
    assert selected == newer.path, said
