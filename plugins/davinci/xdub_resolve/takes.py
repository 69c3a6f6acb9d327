"""Putting a finished take back on the timeline: a take on the item, else a track above.

Stdlib-only. The take goes into the "XDub" bin, then ``AddTake`` + ``SelectTakeByIndex`` on the
original item so the editor flips between original and dub in the Take Selector. Items without
a take selector (no media pool item, refused ``AddTake``) get the take on a new video track at
the same record frame instead. Either way the placement is re-read and tagged with the job id
(a marker on the first frame without one). Only an item's newest take is selected, so
collecting an older one later never changes what the editor sees.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xdub_resolve.host import ResolveTimeline
from xdub_resolve.timing import parse_frame_rate
from xdub_resolve.xdub_protocol.takes import Take

PLACED_AS_TAKE = "take"
PLACED_ON_TRACK = "track"


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
    placed = host.place_above(item, pool_item, num_frames, rate)
    _tag(host, placed, take, pool_item, write)
    return PLACED_ON_TRACK


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
