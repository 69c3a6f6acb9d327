"""``ResolveTimeline``: every call xdub makes into Resolve's scripting API (hosts.md §A).

Stdlib-only. Rules kept here so the rest of the plugin never meets them:

- capabilities are probed with ``name in dir(obj)``: ``hasattr`` is always true on Resolve
  objects and a missing method returns ``None`` rather than raising;
- any call may return ``None``/``False`` instead of raising, so results are checked;
- the edition (``GetProductName()``) is read first; nothing Studio-only (``fusion.UIManager``)
  is touched on free, where it would raise a modal limitation dialog;
- writes are verified by re-reading: ``AppendToTimeline`` silently drops overlapping records.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xdub_resolve.timing import (
    FrameRate,
    ItemTiming,
    append_range,
    parse_frame_rate,
    placed_duration,
    timecode_to_frames,
)

log = logging.getLogger(__name__)

BIN_NAME = "XDub"
DIALOGUE_TRACK_NAMES = ("dub", "adr")
UNSUPPORTED_TYPES = ("compound", "timeline", "multicam", "fusion", "generator", "title")
PROBED_METHODS = (
    "GetVersion",
    "GetSelectedClips",
    "GetIsTrackEnabled",
    "GetSourceStartFrame",
    "GetSourceEndFrame",
    "SetThirdPartyMetadata",
)
"""Every capability the plugin probes with ``dir()`` (the Lua launcher asks for these)."""


class HostError(Exception):
    """Something in Resolve stops the dub; the message says what to do."""


def has_method(obj: Any, name: str) -> bool:
    """Whether a Resolve object offers ``name`` (never ``hasattr``: it is always true)."""
    return obj is not None and name in dir(obj)


def as_list(value: Any) -> list[Any]:
    """Resolve's lists come back as lists, 1-based dicts or ``None``."""
    if value is None or value is False:
        return []
    if isinstance(value, Mapping):
        return [value[key] for key in sorted(value, key=lambda key: float(key))]
    return list(value)


def acquire_resolve(namespace: Mapping[str, Any]) -> Any:
    """The ``resolve`` handle: the script's globals, ``app``, ``bmd``, then DaVinciResolveScript."""
    handle = namespace.get("resolve")
    if handle is None and namespace.get("app") is not None:
        handle = namespace["app"].GetResolve()
    if handle is None and namespace.get("bmd") is not None:
        handle = namespace["bmd"].scriptapp("Resolve")
    if handle is None:
        try:
            import DaVinciResolveScript
        except ImportError:
            DaVinciResolveScript = None  # noqa: N806
        if DaVinciResolveScript is not None:
            handle = DaVinciResolveScript.scriptapp("Resolve")
    if handle is None:
        raise HostError(
            "no Resolve handle: run this from Workspace > Scripts inside DaVinci Resolve "
            "(external scripting needs Studio)"
        )
    return handle


@dataclass(frozen=True)
class Edition:
    """``is_studio`` from ``GetProductName()``; ``version`` as ``(major, minor, patch)``."""

    is_studio: bool
    version: tuple[int, int, int]

    @property
    def has_ui_manager(self) -> bool:
        """Script GUIs: Studio always, free only before 19.1."""
        return self.is_studio or self.version < (19, 1, 0)


def read_edition(resolve: Any) -> Edition:
    name = str(resolve.GetProductName() or "")
    raw = as_list(resolve.GetVersion()) if has_method(resolve, "GetVersion") else []
    numbers = [int(part) for part in raw[:3] if isinstance(part, (int, float))]
    version = tuple((numbers + [0, 0, 0])[:3])
    return Edition("studio" in name.lower(), version)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ClipMedia:
    """What the media pool knows about an item's file (``GetClipProperty`` strings, parsed)."""

    path: str
    rate: FrameRate
    start_tc: int
    num_frames: int | None
    sample_rate_hz: int | None


class ResolveTimeline:
    """The current project's current timeline, seen through the calls xdub needs."""

    def __init__(self, resolve: Any) -> None:
        self.resolve = resolve
        self.edition = read_edition(resolve)
        self.project = resolve.GetProjectManager().GetCurrentProject()
        if self.project is None:
            raise HostError("no project is open: open one, then run XDub again")
        self.timeline = self.project.GetCurrentTimeline()
        if self.timeline is None:
            raise HostError("no timeline is open: open the timeline holding the clip")
        self.media_pool = self.project.GetMediaPool()
        setting = self.timeline.GetSetting("timelineFrameRate") or self.project.GetSetting(
            "timelineFrameRate"
        )
        self.rate = parse_frame_rate(setting)
        self.start_frame = int(self.timeline.GetStartFrame())

    @property
    def name(self) -> str:
        return str(self.timeline.GetName() or "")

    # -- finding items ---------------------------------------------------------------------

    def items(self, kind: str) -> list[tuple[int, Any]]:
        """``(track index, item)`` of every item on the ``"video"``/``"audio"`` tracks."""
        found: list[tuple[int, Any]] = []
        for index in range(1, int(self.timeline.GetTrackCount(kind) or 0) + 1):
            found.extend(
                (index, item) for item in as_list(self.timeline.GetItemListInTrack(kind, index))
            )
        return found

    def find_item(self, unique_id: str) -> Any | None:
        for _, item in self.items("video"):
            if item.GetUniqueId() == unique_id:
                return item
        return None

    def selected_video_item(self) -> Any:
        """The selected video item (21.0.4+), else the one under the playhead on the top track."""
        video_ids = {item.GetUniqueId(): item for _, item in self.items("video")}
        if has_method(self.timeline, "GetSelectedClips"):
            selected = [
                video_ids[item.GetUniqueId()]
                for item in as_list(self.timeline.GetSelectedClips())
                if item.GetUniqueId() in video_ids
            ]
            if len(selected) > 1:
                raise HostError(f"{len(selected)} video clips are selected: select only one")
            if selected:
                return selected[0]
        item = self._item_under_playhead()
        if item is None:
            raise HostError("no video clip is selected or under the playhead")
        return item

    def _item_under_playhead(self) -> Any | None:
        timecode = str(self.timeline.GetCurrentTimecode() or "")
        if not timecode.strip():
            raise HostError(
                "Resolve reports no playhead on this page: switch to the Edit or Cut page, "
                "put the playhead over the clip (or select it), and run XDub again"
            )
        playhead = timecode_to_frames(timecode, self.rate)
        for index in range(int(self.timeline.GetTrackCount("video") or 0), 0, -1):
            if not self.is_track_enabled("video", index):
                continue
            for item in as_list(self.timeline.GetItemListInTrack("video", index)):
                if (
                    item.GetStart() <= playhead < item.GetEnd()
                    and item.GetClipEnabled() is not False
                ):
                    return item
        return self.timeline.GetCurrentVideoItem()

    def is_track_enabled(self, kind: str, index: int) -> bool:
        """Whether the track is on (``True`` where the version cannot say)."""
        if not has_method(self.timeline, "GetIsTrackEnabled"):
            return True
        return self.timeline.GetIsTrackEnabled(kind, index) is not False

    def audio_tracks(self) -> list[tuple[int, str]]:
        return [
            (index, str(self.timeline.GetTrackName("audio", index) or f"Audio {index}"))
            for index in range(1, int(self.timeline.GetTrackCount("audio") or 0) + 1)
        ]

    def default_dialogue_track(self) -> int | None:
        """The audio track named "Dub" or "ADR", if there is one."""
        for index, name in self.audio_tracks():
            if name.strip().lower() in DIALOGUE_TRACK_NAMES:
                return index
        return None

    def own_sound_tracks(self, video: Any) -> set[int]:
        """Audio tracks holding the picture's own sound: items linked to it (19.1+) or playing
        its media pool item over its frames. Never the new dialogue."""
        return {index for index, _ in self._own_sound(video)}

    def _own_sound(self, video: Any) -> list[tuple[int, Any]]:
        linked = set()
        if has_method(video, "GetLinkedItems"):
            linked = {item.GetUniqueId() for item in as_list(video.GetLinkedItems())}
        own = video.GetMediaPoolItem()
        own_id = own.GetUniqueId() if own is not None else None
        start, end = video.GetStart(), video.GetEnd()

        def is_own(item: Any) -> bool:
            if item.GetUniqueId() in linked:
                return True
            pool_item = item.GetMediaPoolItem()
            same_media = pool_item is not None and pool_item.GetUniqueId() == own_id
            return bool(own_id) and same_media and item.GetStart() < end and item.GetEnd() > start

        return [(index, item) for index, item in self.items("audio") if is_own(item)]

    def selected_audio_track(self, video: Any) -> int | None:
        """The track of selected audio items (21.0.4+), when they are all on one. Items of the
        picture's own sound are left out: Linked Selection selects them with the picture."""
        if not has_method(self.timeline, "GetSelectedClips"):
            return None
        own = {item.GetUniqueId() for _, item in self._own_sound(video)}
        audio = {item.GetUniqueId(): index for index, item in self.items("audio")}
        tracks = {
            audio[item.GetUniqueId()]
            for item in as_list(self.timeline.GetSelectedClips())
            if item.GetUniqueId() in audio and item.GetUniqueId() not in own
        }
        return tracks.pop() if len(tracks) == 1 else None

    def audio_items_under(self, track: int, start: int, end: int) -> list[Any]:
        """Enabled items of audio ``track`` overlapping record frames ``[start, end)``."""
        return [
            item
            for item in as_list(self.timeline.GetItemListInTrack("audio", track))
            if item.GetStart() < end
            and item.GetEnd() > start
            and item.GetClipEnabled() is not False
        ]

    # -- reading an item -------------------------------------------------------------------

    def media(self, item: Any, what: str) -> ClipMedia:
        """The item's file; rejects compound clips, generators and offline media."""
        pool_item = item.GetMediaPoolItem()
        if pool_item is None:
            raise HostError(f"{what} has no media (a title, generator or compound clip?)")
        props = pool_item.GetClipProperty() or {}
        kind = str(props.get("Type", "")).lower()
        path = str(props.get("File Path", "") or "")
        if any(word in kind for word in UNSUPPORTED_TYPES) or not path:
            raise HostError(
                f"{what} is a {props.get('Type') or 'clip without a file'}: compound, multicam "
                "and generated clips cannot be dubbed; render it to a file first"
            )
        rate = parse_frame_rate(props["FPS"]) if props.get("FPS") else self.rate
        start_tc = str(props.get("Start TC") or "00:00:00:00")
        frames = str(props.get("Frames") or "").strip()
        sample_rate = str(props.get("Sample Rate") or "").strip()
        return ClipMedia(
            path=path,
            rate=rate,
            start_tc=timecode_to_frames(start_tc, rate),
            num_frames=int(frames) if frames.isdigit() else None,
            sample_rate_hz=int(float(sample_rate))
            if sample_rate.replace(".", "").isdigit()
            else None,
        )

    def timing(self, item: Any, media: ClipMedia) -> ItemTiming:
        has_source = has_method(item, "GetSourceStartFrame") and has_method(
            item, "GetSourceEndFrame"
        )
        return ItemTiming(
            record_start=round(item.GetStart()),
            record_end=round(item.GetEnd()),
            left_offset=round(item.GetLeftOffset()),
            timeline_rate=self.rate,
            media_rate=media.rate,
            media_start_tc=media.start_tc,
            source_start=round(item.GetSourceStartFrame()) if has_source else None,
            source_end=round(item.GetSourceEndFrame()) if has_source else None,
            right_offset=round(item.GetRightOffset()),
            media_num_frames=media.num_frames,
        )

    # -- writing back ----------------------------------------------------------------------

    def import_take(self, path: str) -> Any:
        """Import ``path`` into the "XDub" bin (made if needed); the current folder is kept."""
        folder = self.xdub_bin()
        if folder is None:
            folder = self.media_pool.AddSubFolder(self.media_pool.GetRootFolder(), BIN_NAME)
        if folder is None:
            raise HostError(f"could not create the {BIN_NAME!r} bin in the media pool")
        current = self.media_pool.GetCurrentFolder()
        self.media_pool.SetCurrentFolder(folder)
        try:
            imported = as_list(self.media_pool.ImportMedia([path]))
        finally:
            if current is not None:
                self.media_pool.SetCurrentFolder(current)
        if not imported:
            raise HostError(f"Resolve could not import the take {path}")
        return imported[0]

    def xdub_bin(self) -> Any | None:
        """The media pool's "XDub" bin (where takes are imported), if there is one."""
        root = self.media_pool.GetRootFolder()
        return next(
            (sub for sub in as_list(root.GetSubFolderList()) if sub.GetName() == BIN_NAME), None
        )

    def takes_in_bin(self) -> list[Any]:
        """The media pool items of the "XDub" bin: every take imported so far."""
        folder = self.xdub_bin()
        return as_list(folder.GetClipList()) if folder is not None else []

    def pool_item_in_bin(self, path: str) -> Any | None:
        """The "XDub" bin's media pool item of ``path``, if it was imported before."""
        for clip in self.takes_in_bin():
            if (clip.GetClipProperty() or {}).get("File Path") == path:
                return clip
        return None

    def add_take(self, item: Any, take: Any, *, select: bool = True) -> bool:
        """Add ``take`` to the item's take selector (and select it if ``select``); verified by
        re-reading. Without ``select`` the take the editor chose stays selected."""
        if item.GetMediaPoolItem() is None:
            return False
        before = int(item.GetTakesCount() or 0)
        if not item.AddTake(take):
            return False
        count = int(item.GetTakesCount() or 0)
        added = (item.GetTakeByIndex(count) or {}).get("mediaPoolItem") if count else None
        if count <= max(before, 1) or added is None:
            return False
        if added.GetUniqueId() != take.GetUniqueId():
            return False
        if not select:
            return True
        if not item.SelectTakeByIndex(count):
            return False
        selected = item.GetMediaPoolItem()
        return selected is not None and selected.GetUniqueId() == take.GetUniqueId()

    def has_take(self, item: Any, path: str) -> bool:
        """Whether the item's takes, or an item placed above it, already hold ``path``."""

        def is_take(pool_item: Any) -> bool:
            return (
                pool_item is not None
                and (pool_item.GetClipProperty() or {}).get("File Path") == path
            )

        count = int(item.GetTakesCount() or 0)
        takes = [item.GetTakeByIndex(index) or {} for index in range(1, count + 1)]
        if any(is_take(info.get("mediaPoolItem")) for info in takes):
            return True
        item_id = item.GetUniqueId()
        return any(
            is_take(other.GetMediaPoolItem())
            for _, other in self.items("video")
            if other.GetUniqueId() != item_id
        )

    def place_above(
        self, item: Any, take: Any, num_frames: int, take_rate: FrameRate, track: int | None
    ) -> Any:
        """Put ``take`` at the item's record frame on video track ``track`` (``None``: a new
        one); verified by re-reading."""
        if track is None:
            if not self.timeline.AddTrack("video"):
                raise HostError("Resolve refused to add a video track for the take")
            track = int(self.timeline.GetTrackCount("video"))
        start_frame, end_frame = append_range(num_frames)  # endFrame is exclusive
        record = round(item.GetStart())
        self.media_pool.AppendToTimeline(
            [
                {
                    "mediaPoolItem": take,
                    "startFrame": start_frame,
                    "endFrame": end_frame,
                    "trackIndex": track,
                    "recordFrame": record,
                    "mediaType": 1,
                }
            ]
        )
        expected = placed_duration(num_frames, take_rate, self.rate)
        for placed in as_list(self.timeline.GetItemListInTrack("video", track)):  # the proof
            duration = round(placed.GetEnd()) - round(placed.GetStart())
            if round(placed.GetStart()) == record and abs(duration - expected) <= 1:
                return placed
        raise HostError(
            f"Resolve did not place the take on video track {track} at frame {record} "
            "(AppendToTimeline drops overlapping clips silently): place it by hand from the "
            f"{BIN_NAME!r} bin"
        )

    def tag(self, item: Any, job_id: str, take: Any) -> bool:
        """Mark provenance: the take's third-party metadata, and a marker carrying the job id
        on the item's first frame without one. ``False`` when Resolve refused the marker."""
        if has_method(take, "SetThirdPartyMetadata"):
            take.SetThirdPartyMetadata("xdub_job_id", job_id)
        used = {int(frame) for frame in (item.GetMarkers() or {})}
        free = [frame for frame in range(int(item.GetDuration() or 0)) if frame not in used]
        if not free:
            return False
        note, data = f"xdub job {job_id}", f"xdub:{job_id}"
        return bool(item.AddMarker(free[0], "Purple", "xdub take", note, 1, data))
