"""A fake DaVinci Resolve object model, written from hosts.md §A (API and measured quirks).

Quirks reproduced:

- ``hasattr`` is always true and a method the build lacks returns ``None`` when called; only
  ``dir()`` tells (the fake records such calls in ``app.absent_calls``: the plugin must make none);
- methods appear by version (``SINCE``): ``GetSelectedClips`` 21.0.4, ``GetSourceStart/EndFrame``,
  ``GetTrackTypeAndIndex``, ``SetThirdPartyMetadata`` 19.1, ``AppendToTimeline``'s
  ``trackIndex``/``recordFrame`` 18.5;
- Studio gates: on free, a Studio-only call returns ``False`` and opens a modal limitation dialog
  (``app.limitation_dialogs``); while it is open every later call fails. ``fusion.UIManager`` is
  ``None`` on free >= 19.1 and raises the upsell dialog when read;
- ``GetSourceEndFrame()`` is exclusive when media fps == timeline fps, inclusive when they
  differ; ``GetSourceStartFrame()`` can be off by one (``source_start_skew``); a reversed clip
  reports start > end; a retimed clip (``speed``) a span that is not its duration;
- ``GetClipProperty()`` returns strings; ``AppendToTimeline``'s ``endFrame`` is exclusive,
  overlapping records are silently dropped (the earlier item wins) while an item is still
  returned, and mixed-fps placements are floored;
- items land in the media pool's *current* folder;
- a clip and its own sound are linked (``GetLinkedItems`` 19.1), and with Linked Selection on
  (the default) selecting one selects both.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

FREE = "DaVinci Resolve"
STUDIO = "DaVinci Resolve Studio"

SINCE: dict[str, tuple[int, int, int]] = {
    "GetSelectedClips": (21, 0, 4),
    "GetSourceStartFrame": (19, 1, 0),
    "GetSourceEndFrame": (19, 1, 0),
    "GetTrackTypeAndIndex": (19, 1, 0),
    "GetLinkedItems": (19, 1, 0),
    "SetThirdPartyMetadata": (19, 1, 0),
    "GetThirdPartyMetadata": (19, 1, 0),
    "GetMarkInOut": (19, 1, 0),
}
TIMECODE_PAGES = ("cut", "edit", "color", "fairlight", "deliver")
STUDIO_ONLY = {"GenerateSpeech", "AnalyzeForIntellisearch", "RemoveMotionBlur"}
"""The 21.0 "Studio and AI Scripting APIs" the fake gates; the plugin needs none of them."""

_ids = itertools.count(1)


@dataclass
class FakeApp:
    """The state every fake object shares: edition, version, and what went wrong."""

    product: str
    version: tuple[int, int, int]
    probe: Callable[[str], dict[str, str]]
    limitation_dialogs: list[str] = field(default_factory=list)
    absent_calls: list[str] = field(default_factory=list)
    page: str = "edit"
    """The open page: the playhead timecode calls are documented for these only (§A4)."""

    @property
    def is_studio(self) -> bool:
        return self.product == STUDIO

    def has(self, name: str) -> bool:
        return self.version >= SINCE.get(name, (0, 0, 0))


def _absent(app: FakeApp, name: str) -> Callable[..., None]:
    def call(*args: Any, **kwargs: Any) -> None:
        app.absent_calls.append(name)

    return call


def _blocked(*args: Any, **kwargs: Any) -> bool:
    return False


class FakeObject:
    """Attribute access as Resolve's Python binding does it."""

    def __init__(self, app: FakeApp) -> None:
        self._app = app

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("_"):
            return object.__getattribute__(self, name)
        app: FakeApp = object.__getattribute__(self, "_app")
        if not app.has(name):
            return _absent(app, name)
        try:
            value = object.__getattribute__(self, name)
        except AttributeError:
            return _absent(app, name)  # hasattr() is always true
        if app.limitation_dialogs and callable(value):
            return _blocked  # a modal dialog is open: every call fails until it is dismissed
        if name in STUDIO_ONLY and not app.is_studio:
            app.limitation_dialogs.append(name)
            return _blocked
        return value

    def __dir__(self) -> list[str]:
        app: FakeApp = object.__getattribute__(self, "_app")
        names = [name for name in dir(type(self)) if not name.startswith("_")]
        return [name for name in names if app.has(name)]


class FakeMediaPoolItem(FakeObject):
    def __init__(self, app: FakeApp, props: dict[str, str]) -> None:
        super().__init__(app)
        self._props = dict(props)
        self._id = f"mpi-{next(_ids)}"
        self._third_party: dict[str, str] = {}

    def GetClipProperty(self, name: str | None = None) -> Any:  # noqa: N802
        return dict(self._props) if name is None else self._props.get(name, "")

    def GetName(self) -> str:  # noqa: N802
        return self._props.get("Clip Name", "")

    def GetUniqueId(self) -> str:  # noqa: N802
        return self._id

    def GetMediaId(self) -> str:  # noqa: N802
        return self._id

    def SetThirdPartyMetadata(self, key: str, value: str) -> bool:  # noqa: N802
        self._third_party[key] = value
        return True

    def GetThirdPartyMetadata(self, key: str | None = None) -> Any:  # noqa: N802
        return dict(self._third_party) if key is None else self._third_party.get(key, "")


def _fps(text: str) -> Fraction:
    value = float(text.split()[0])
    nominal = round(value)
    if abs(value - nominal) > 1e-6 and abs(value - nominal * 1000 / 1001) < 0.006:
        return Fraction(nominal * 1000, 1001)
    return Fraction(value).limit_denominator(1001)


class FakeTimelineItem(FakeObject):
    """An item on a track. ``speed`` 1 is normal; negative is reversed."""

    def __init__(
        self,
        app: FakeApp,
        timeline: FakeTimeline,
        pool_item: FakeMediaPoolItem | None,
        *,
        record_start: int,
        duration: int,
        left_offset: int,
        speed: Fraction = Fraction(1),
        source_start_skew: int = 0,
        name: str = "",
    ) -> None:
        super().__init__(app)
        self._timeline = timeline
        self._takes: list[FakeMediaPoolItem | None] = [pool_item]
        self._selected = 0
        self._has_selector = False
        self._start = record_start
        self._duration = duration
        self._left = left_offset
        self._speed = speed
        self._skew = source_start_skew
        self._name = name or (pool_item.GetName() if pool_item else "Compound Clip")
        self._id = f"item-{next(_ids)}"
        self._markers: dict[int, dict[str, Any]] = {}
        self._enabled = True
        self.linked: list[FakeTimelineItem] = []
        """Items linked to this one (a clip and its own sound are, as Resolve links them)."""

    def GetName(self) -> str:  # noqa: N802
        return self._name

    def GetUniqueId(self) -> str:  # noqa: N802
        return self._id

    def GetStart(self, subframe_precision: bool = False) -> int:  # noqa: N802
        return self._start

    def GetEnd(self, subframe_precision: bool = False) -> int:  # noqa: N802
        return self._start + self._duration

    def GetDuration(self, subframe_precision: bool = False) -> int:  # noqa: N802
        return self._duration

    def GetLeftOffset(self, subframe_precision: bool = False) -> int:  # noqa: N802
        """The source in-point; on a retimed clip in warped (record-speed) space (§A5)."""
        return round(self._left / abs(self._speed))

    def GetRightOffset(self, subframe_precision: bool = False) -> int:  # noqa: N802
        """How far the clip can extend to the right: the media left after the used span, in
        the same space as the left offset."""
        pool_item = self._takes[self._selected]
        frames = int(pool_item.GetClipProperty("Frames") or 0) if pool_item else 0
        return round((frames - self._left - self._source_span()) / abs(self._speed))

    def _rates(self) -> tuple[Fraction, Fraction]:
        pool_item = self._takes[self._selected]
        media = _fps(pool_item.GetClipProperty("FPS")) if pool_item else self._timeline._fps
        return media, self._timeline._fps

    def _source_span(self) -> Fraction:
        media, timeline = self._rates()
        return self._duration * media / timeline * abs(self._speed)

    def GetSourceStartFrame(self) -> int:  # noqa: N802
        start = self._left + self._skew
        return start + math.floor(self._source_span()) if self._speed < 0 else start

    def GetSourceEndFrame(self) -> int:  # noqa: N802
        media, timeline = self._rates()
        inclusive = 0 if media == timeline else 1
        if self._speed < 0:
            return self._left
        return self._left + math.floor(self._source_span()) - inclusive

    def GetLinkedItems(self) -> list[FakeTimelineItem]:  # noqa: N802  (19.1)
        return list(self.linked)

    def GetMediaPoolItem(self) -> FakeMediaPoolItem | None:  # noqa: N802
        return self._takes[self._selected]

    def GetClipEnabled(self) -> bool:  # noqa: N802
        return self._enabled

    def GetTrackTypeAndIndex(self) -> list[Any]:  # noqa: N802
        return list(self._timeline._where(self))

    def AddTake(  # noqa: N802
        self,
        pool_item: FakeMediaPoolItem,
        start_frame: int | None = None,
        end_frame: int | None = None,
    ) -> bool:
        if self._takes[0] is None or not isinstance(pool_item, FakeMediaPoolItem):
            return False  # only items with a MediaPoolItem get a take selector
        self._has_selector = True
        self._takes.append(pool_item)
        return True

    def GetTakesCount(self) -> int:  # noqa: N802
        return len(self._takes) if self._has_selector else 0

    def SelectTakeByIndex(self, index: int) -> bool:  # noqa: N802
        if not self._has_selector or not 1 <= index <= len(self._takes):
            return False
        self._selected = index - 1
        return True

    def GetSelectedTakeIndex(self) -> int:  # noqa: N802
        return self._selected + 1 if self._has_selector else 0

    def GetTakeByIndex(self, index: int) -> dict[str, Any] | None:  # noqa: N802
        if not self._has_selector or not 1 <= index <= len(self._takes):
            return None
        pool_item = self._takes[index - 1]
        frames = int(pool_item.GetClipProperty("Frames") or 0) if pool_item else 0
        return {"startFrame": 0, "endFrame": frames, "mediaPoolItem": pool_item}

    def AddMarker(  # noqa: N802
        self, frame: int, color: str, name: str, note: str, duration: int, custom_data: str = ""
    ) -> bool:
        if frame in self._markers or not 0 <= frame < self._duration:
            return False
        self._markers[frame] = {
            "color": color,
            "duration": duration,
            "note": note,
            "name": name,
            "customData": custom_data,
        }
        return True

    def GetMarkers(self) -> dict[int, dict[str, Any]]:  # noqa: N802
        return {frame: dict(marker) for frame, marker in self._markers.items()}

    def RemoveMotionBlur(self) -> bool:  # noqa: N802  (Studio-only AI call)
        return True


class FakeTimeline(FakeObject):
    def __init__(self, app: FakeApp, name: str, fps_text: str, start_frame: int) -> None:
        super().__init__(app)
        self._name = name
        self._fps_text = fps_text
        self._fps = _fps(fps_text)
        self._start_frame = start_frame
        self._tracks: dict[str, list[dict[str, Any]]] = {"video": [], "audio": [], "subtitle": []}
        self._playhead = start_frame
        self._selected: list[FakeTimelineItem] = []
        self._id = f"timeline-{next(_ids)}"

    def _where(self, item: FakeTimelineItem) -> tuple[str, int]:
        for kind, tracks in self._tracks.items():
            for index, track in enumerate(tracks, 1):
                if item in track["items"]:
                    return kind, index
        raise LookupError(item)

    def add_track(self, kind: str, name: str = "", enabled: bool = True) -> int:
        """Test setup: a track (Resolve names new ones "Video N"/"Audio N")."""
        tracks = self._tracks[kind]
        tracks.append(
            {"name": name or f"{kind.title()} {len(tracks) + 1}", "enabled": enabled, "items": []}
        )
        return len(tracks)

    def place(self, kind: str, track: int, item: FakeTimelineItem) -> bool:
        """Put ``item`` on a track unless it overlaps one already there (then it is dropped)."""
        items = self._tracks[kind][track - 1]["items"]
        if any(o.GetStart() < item.GetEnd() and item.GetStart() < o.GetEnd() for o in items):
            return False
        items.append(item)
        items.sort(key=lambda other: other.GetStart())
        return True

    def select(self, *items: FakeTimelineItem, linked_selection: bool = True) -> None:
        """Select ``items``; with Linked Selection (Resolve's default) their linked items too."""
        chosen = list(items)
        for item in items if linked_selection else ():
            chosen += [other for other in item.linked if other not in chosen]
        self._selected = chosen

    def GetName(self) -> str:  # noqa: N802
        return self._name

    def GetUniqueId(self) -> str:  # noqa: N802
        return self._id

    def GetSetting(self, name: str = "") -> str:  # noqa: N802
        return self._fps_text if name == "timelineFrameRate" else ""

    def GetStartFrame(self) -> int:  # noqa: N802
        return self._start_frame

    def GetEndFrame(self) -> int:  # noqa: N802
        ends = [i.GetEnd() for t in self._tracks["video"] for i in t["items"]]
        return max(ends, default=self._start_frame)

    def GetTrackCount(self, kind: str) -> int:  # noqa: N802
        return len(self._tracks.get(kind, []))

    def GetTrackName(self, kind: str, index: int) -> str:  # noqa: N802
        return self._tracks[kind][index - 1]["name"]

    def GetIsTrackEnabled(self, kind: str, index: int) -> bool:  # noqa: N802
        return bool(self._tracks[kind][index - 1]["enabled"])

    def GetItemListInTrack(self, kind: str, index: int) -> list[FakeTimelineItem]:  # noqa: N802
        tracks = self._tracks.get(kind, [])
        return list(tracks[index - 1]["items"]) if 1 <= index <= len(tracks) else []

    def AddTrack(self, kind: str, sub_type: str | None = None) -> bool:  # noqa: N802
        self.add_track(kind)
        return True

    def GetCurrentTimecode(self) -> str:  # noqa: N802
        if self._app.page not in TIMECODE_PAGES:
            return ""  # undocumented there: Resolve gives no playhead (as on the Media page)
        nominal = round(self._fps)
        seconds, frame = divmod(self._playhead, nominal)
        minutes, second = divmod(seconds, 60)
        hour, minute = divmod(minutes, 60)
        return f"{hour:02d}:{minute:02d}:{second:02d}:{frame:02d}"

    def SetCurrentTimecode(self, timecode: str) -> bool:  # noqa: N802
        hours, minutes, seconds, frames = (
            int(part) for part in timecode.replace(";", ":").split(":")
        )
        self._playhead = ((hours * 60 + minutes) * 60 + seconds) * round(self._fps) + frames
        return True

    def GetCurrentVideoItem(self) -> FakeTimelineItem | None:  # noqa: N802
        for track in reversed(self._tracks["video"]):
            for item in track["items"]:
                if item.GetStart() <= self._playhead < item.GetEnd():
                    return item
        return None

    def GetSelectedClips(self) -> list[FakeTimelineItem]:  # noqa: N802
        return list(self._selected)

    def GenerateSpeech(self, *args: Any) -> bool:  # noqa: N802  (Studio-only AI call)
        return True


class FakeFolder(FakeObject):
    def __init__(self, app: FakeApp, name: str) -> None:
        super().__init__(app)
        self._name = name
        self._clips: list[FakeMediaPoolItem] = []
        self._folders: list[FakeFolder] = []

    def GetName(self) -> str:  # noqa: N802
        return self._name

    def GetClipList(self) -> list[FakeMediaPoolItem]:  # noqa: N802
        return list(self._clips)

    def GetSubFolderList(self) -> list[FakeFolder]:  # noqa: N802
        return list(self._folders)


class FakeMediaPool(FakeObject):
    def __init__(self, app: FakeApp, project: FakeProject) -> None:
        super().__init__(app)
        self._project = project
        self._root = FakeFolder(app, "Master")
        self._current = self._root

    def GetRootFolder(self) -> FakeFolder:  # noqa: N802
        return self._root

    def GetCurrentFolder(self) -> FakeFolder:  # noqa: N802
        return self._current

    def SetCurrentFolder(self, folder: FakeFolder) -> bool:  # noqa: N802
        self._current = folder
        return True

    def AddSubFolder(self, parent: FakeFolder, name: str) -> FakeFolder:  # noqa: N802
        folder = FakeFolder(self._app, name)
        parent._folders.append(folder)
        return folder

    def add_clip(self, props: dict[str, str]) -> FakeMediaPoolItem:
        """Test setup: a clip in the current folder with these (string) properties."""
        item = FakeMediaPoolItem(self._app, props)
        self._current._clips.append(item)
        return item

    def ImportMedia(self, paths: list[Any]) -> list[FakeMediaPoolItem]:  # noqa: N802
        imported = []
        for path in paths:
            if not isinstance(path, str):
                return []
            try:
                props = self._app.probe(path)
            except OSError:
                return []
            imported.append(self.add_clip(props))
        return imported

    def AppendToTimeline(self, clips: list[Any]) -> list[FakeTimelineItem]:  # noqa: N802
        timeline = self._project._timeline
        appended = []
        for info in clips:
            pool_item = info["mediaPoolItem"]
            media = _fps(pool_item.GetClipProperty("FPS"))
            start, end = int(info.get("startFrame", 0)), int(info["endFrame"])  # end exclusive
            duration = math.floor((end - start) * timeline._fps / media)  # mixed fps: floored
            track = int(info.get("trackIndex", 1))
            record = int(info.get("recordFrame", timeline.GetEndFrame()))
            item = FakeTimelineItem(
                self._app,
                timeline,
                pool_item,
                record_start=record,
                duration=duration,
                left_offset=start,
            )
            kind = "video" if info.get("mediaType", 1) == 1 else "audio"
            timeline.place(kind, track, item)  # an overlap is dropped silently
            appended.append(item)  # ...and still returned: not a proof of placement
        return appended


class FakeProject(FakeObject):
    def __init__(self, app: FakeApp, name: str, timeline: FakeTimeline) -> None:
        super().__init__(app)
        self._name = name
        self._timeline = timeline
        self._pool = FakeMediaPool(app, self)

    def GetName(self) -> str:  # noqa: N802
        return self._name

    def GetCurrentTimeline(self) -> FakeTimeline:  # noqa: N802
        return self._timeline

    def GetMediaPool(self) -> FakeMediaPool:  # noqa: N802
        return self._pool

    def GetSetting(self, name: str = "") -> str:  # noqa: N802
        return self._timeline.GetSetting(name)


class FakeProjectManager(FakeObject):
    def __init__(self, app: FakeApp, project: FakeProject) -> None:
        super().__init__(app)
        self._project = project

    def GetCurrentProject(self) -> FakeProject:  # noqa: N802
        return self._project

    def SaveProject(self) -> bool:  # noqa: N802
        return True


class FakeResolve(FakeObject):
    def __init__(self, app: FakeApp, project: FakeProject) -> None:
        super().__init__(app)
        self._manager = FakeProjectManager(app, project)
        self._fusion = FakeFusion(app)

    def GetProductName(self) -> str:  # noqa: N802
        return self._app.product

    def GetVersion(self) -> list[Any]:  # noqa: N802
        return [*self._app.version, 0, ""]

    def GetVersionString(self) -> str:  # noqa: N802
        return ".".join(str(part) for part in self._app.version)

    def GetProjectManager(self) -> FakeProjectManager:  # noqa: N802
        return self._manager

    def Fusion(self) -> FakeFusion:  # noqa: N802
        return self._fusion


class FakeFusion(FakeObject):
    """``fusion``: its ``UIManager`` is ``None`` on free >= 19.1, with the upsell dialog."""

    def __init__(self, app: FakeApp) -> None:
        super().__init__(app)
        self._ui = FakeUI(app)

    @property
    def UIManager(self) -> FakeUI | None:  # noqa: N802
        if not self._app.is_studio and self._app.version >= (19, 1, 0):
            self._app.limitation_dialogs.append("UIManager")
            return None
        return self._ui


# -- UIManager / UIDispatcher ---------------------------------------------------------------


class Handlers:
    """``win.On.<id>.<Event> = handler`` bookkeeping."""

    def __init__(self) -> None:
        object.__setattr__(self, "_by_id", {})

    def __getattr__(self, widget_id: str) -> Any:
        by_id = object.__getattribute__(self, "_by_id")
        return by_id.setdefault(widget_id, _EventSlots())


class _EventSlots:
    def __init__(self) -> None:
        self.__dict__["slots"] = {}

    def __setattr__(self, event: str, handler: Any) -> None:
        self.__dict__["slots"][event] = handler

    def __getattr__(self, event: str) -> Any:
        return self.__dict__["slots"].get(event)


@dataclass
class Widget:
    kind: str
    props: dict[str, Any]
    children: list[Widget] = field(default_factory=list)
    entries: list[str] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        if name in ("Text", "CurrentIndex"):
            return self.props.get(name, "" if name == "Text" else 0)
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("Text", "CurrentIndex"):
            self.props[name] = value
        else:
            object.__setattr__(self, name, value)

    def AddItem(self, text: str) -> None:  # noqa: N802
        self.entries.append(text)

    def Start(self) -> None:  # noqa: N802  (Timer)
        self.props["running"] = True

    def Stop(self) -> None:  # noqa: N802  (Timer)
        self.props["running"] = False


class FakeUI:
    """``fusion.UIManager``: widget constructors and ``Timer``."""

    def __init__(self, app: FakeApp) -> None:
        self._app = app
        self.timers: list[Widget] = []

    def __getattr__(self, kind: str) -> Any:
        if kind in ("VGroup", "HGroup"):
            return lambda children: Widget(kind, {}, list(children))
        if kind in ("Label", "Button", "ComboBox", "LineEdit"):
            return lambda props: Widget(kind, dict(props))
        if kind == "Timer":
            return self._timer
        raise AttributeError(kind)

    def _timer(self, props: dict[str, Any]) -> Widget:
        timer = Widget("Timer", dict(props))
        self.timers.append(timer)
        return timer


class FakeWindow:
    def __init__(self, props: dict[str, Any], root: Widget) -> None:
        self.props = props
        self.On = Handlers()
        self.visible = False
        self._items: dict[str, Widget] = {}
        stack = [root]
        while stack:
            widget = stack.pop()
            stack.extend(widget.children)
            if "ID" in widget.props:
                self._items[widget.props["ID"]] = widget

    def GetItems(self) -> dict[str, Widget]:  # noqa: N802
        return self._items

    def Show(self) -> None:  # noqa: N802
        self.visible = True

    def Hide(self) -> None:  # noqa: N802
        self.visible = False

    def click(self, widget_id: str) -> None:
        handler = getattr(self.On, widget_id).Clicked
        if handler is not None:
            handler({"who": widget_id})


class FakeDispatcher:
    """``bmd.UIDispatcher(ui)``: ``RunLoop`` fires the timer's ``Timeout`` until ``ExitLoop``.

    ``user`` is the test's stand-in for a person: called once per loop turn with the window.
    """

    def __init__(self, ui: FakeUI, user: Callable[[FakeWindow, int], None] | None = None) -> None:
        self.ui = ui
        self.On = _EventSlots()
        self.windows: list[FakeWindow] = []
        self.user = user
        self._running = False
        self.max_turns = 2000

    def AddWindow(self, props: dict[str, Any], root: Widget) -> FakeWindow:  # noqa: N802
        window = FakeWindow(props, root)
        self.windows.append(window)
        return window

    def RunLoop(self) -> None:  # noqa: N802
        self._running = True
        window = self.windows[-1]
        for turn in range(self.max_turns):
            if not self._running:
                return
            if self.user is not None:
                self.user(window, turn)
            running = [t for t in self.ui.timers if t.props.get("running")]
            if self._running and running and self.On.Timeout is not None:
                time.sleep(min(t.props["Interval"] for t in running) / 1000)
                self.On.Timeout({"who": "poll"})
        raise AssertionError("the dispatcher loop never exited")

    def ExitLoop(self) -> None:  # noqa: N802
        self._running = False


class FakeBmd:
    """``bmd``: ``UIDispatcher``; ``scriptapp`` works only inside Resolve (as a menu script)."""

    def __init__(
        self, resolve: FakeResolve, user: Callable[[FakeWindow, int], None] | None = None
    ) -> None:
        self._resolve = resolve
        self.dispatcher = FakeDispatcher(resolve._fusion._ui, user)

    def UIDispatcher(self, ui: Any) -> FakeDispatcher:  # noqa: N802
        if ui is None:
            raise AttributeError("'NoneType' object has no attribute 'AddWindow'")
        return self.dispatcher

    def scriptapp(self, name: str) -> FakeResolve | None:
        return self._resolve if name == "Resolve" else None


def make_resolve(
    product: str,
    version: tuple[int, int, int],
    probe: Callable[[str], dict[str, str]],
    *,
    timeline_fps: str = "24",
    timeline_start_frame: int = 86400,
) -> tuple[FakeApp, FakeResolve]:
    """A running Resolve with one project holding one empty timeline."""
    app = FakeApp(product, version, probe)
    timeline = FakeTimeline(app, "Timeline 1", timeline_fps, timeline_start_frame)
    project = FakeProject(app, "Film", timeline)
    return app, FakeResolve(app, project)
