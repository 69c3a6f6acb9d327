"""Putting a finished take back on the timeline: a take on the item, else a track above.

Stdlib-only. The take goes into the "XDub" bin, then ``AddTake`` + ``SelectTakeByIndex`` on the
original item so the editor flips between original and dub in the Take Selector. Items without
a take selector (no media pool item, refused ``AddTake``) get the take on a video track above at
the same record frame instead: the takes track (``takes_track``) where it is free, else a new
one. Either way the placement is re-read and tagged with the job id
(a marker on the first frame without one). Only an item's newest take is selected, so
collecting an older one later never changes what the editor sees.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xdub_resolve.host import ResolveTimeline
from xdub_resolve.timing import parse_frame_rate, placed_duration
from xdub_resolve.xdub_protocol.takes import Take

PLACED_AS_TAKE = "take"
PLACED_ON_TRACK = "track"
TAKES_TRACK_NAME = "xdub"
"""A video track the editor named so (any case) takes the takes that need a track."""


def place_take(
    host: ResolveTimeline,
    item: Any,
    take: Take,
    *,
    select: bool = True,
    write: Callable[[str], None] | None = None,
) -> str:
    """Import ``take`` and attach it to ``item``; returns how it was placed. ``select``: make it
    the item's selected take (only for the item's newest take). ``write`` is told when Resolve
    refuses the provenance marker (the take is placed all the same)."""
    pool_item = host.pool_item_in_bin(take.path) or host.import_take(take.path)
    if host.add_take(item, pool_item, select=select):
        _tag(host, item, take, pool_item, write)
        return PLACED_AS_TAKE
    props = pool_item.GetClipProperty() or {}
    rate = parse_frame_rate(props["FPS"]) if props.get("FPS") else host.rate
    frames = str(props.get("Frames") or "").strip()
    num_frames = int(frames) if frames.isdigit() else take.num_frames
    start = round(item.GetStart())
    end = start + placed_duration(num_frames, rate, host.rate)
    placed = host.place_above(
        item, pool_item, num_frames, rate, takes_track(host, item, start, end)
    )
    _tag(host, placed, take, pool_item, write)
    return PLACED_ON_TRACK


def takes_track(host: ResolveTimeline, item: Any, start: int, end: int) -> int | None:
    """The lowest enabled video track above ``item``'s that is free over timeline frames
    ``[start, end)`` and is the takes track: named "xdub" by the editor, or holding only
    earlier takes (items of the "XDub" bin's media pool items). ``None``: add a track.

    The plugin cannot name the tracks it adds (the documented API has ``GetTrackName`` but
    no setter), so it knows its own by what they hold."""
    take_ids = {clip.GetUniqueId() for clip in host.takes_in_bin()}
    on_track: dict[int, list[Any]] = {}
    for index, other in host.items("video"):
        on_track.setdefault(index, []).append(other)
    item_id = item.GetUniqueId()
    below = next(
        (i for i, items in on_track.items() if any(o.GetUniqueId() == item_id for o in items)), 0
    )
    for index in range(below + 1, int(host.timeline.GetTrackCount("video") or 0) + 1):
        items = on_track.get(index, [])
        name = str(host.timeline.GetTrackName("video", index) or "").strip().lower()
        ours = bool(items) and all(_pool_id(other) in take_ids for other in items)
        free = all(round(o.GetEnd()) <= start or end <= round(o.GetStart()) for o in items)
        if (name == TAKES_TRACK_NAME or ours) and free and host.is_track_enabled("video", index):
            return index
    return None


def _pool_id(item: Any) -> Any:
    pool_item = item.GetMediaPoolItem()
    return pool_item.GetUniqueId() if pool_item is not None else None


def _tag(
    host: ResolveTimeline,
    item: Any,
    take: Take,
    pool_item: Any,
    write: Callable[[str], None] | None,
) -> None:
    if not host.tag(item, take.job_id, pool_item) and write is not None:
        write(
            f"XDub: the take of job {take.job_id} is placed, but Resolve refused its marker "
            f"on {item.GetName()!r} (every frame has one?); its media pool item names the job"
        )
