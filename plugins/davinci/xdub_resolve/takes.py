"""Putting a finished take back on the timeline: a take on the item, else a track above.

Stdlib-only. The take goes into the "XDub" bin, then ``AddTake`` + ``SelectTakeByIndex`` on the
original item so the editor flips between original and dub in the Take Selector. Items without
a take selector (no media pool item, refused ``AddTake``) get the take on a new video track at
the same record frame instead. Either way the placement is re-read and tagged with the job id.
"""

from __future__ import annotations

from typing import Any

from xdub_resolve.host import ResolveTimeline
from xdub_resolve.timing import parse_frame_rate
from xdub_resolve.xdub_protocol.takes import Take

PLACED_AS_TAKE = "take"
PLACED_ON_TRACK = "track"


def place_take(host: ResolveTimeline, item: Any, take: Take) -> str:
    """Import ``take`` and attach it to ``item``; returns how it was placed."""
    pool_item = host.pool_item_in_bin(take.path) or host.import_take(take.path)
    if host.add_take(item, pool_item):
        host.tag(item, take.job_id, pool_item)
        return PLACED_AS_TAKE
    props = pool_item.GetClipProperty() or {}
    rate = parse_frame_rate(props["FPS"]) if props.get("FPS") else host.rate
    frames = str(props.get("Frames") or "").strip()
    num_frames = int(frames) if frames.isdigit() else take.num_frames
    placed = host.place_above(item, pool_item, num_frames, rate)
    host.tag(placed, take.job_id, pool_item)
    return PLACED_ON_TRACK
