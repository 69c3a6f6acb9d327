"""The OTIO job as plain JSON (docs/protocol.md, "The OTIO job"), and reading the result back.

Blender's Python has no ``opentimelineio``, so the job timeline is written as the dicts OTIO's
``otio_json`` adapter reads (Timeline.1, Track.1, Clip.2, Gap.1, ExternalReference.1). Times are
in scene frames at the scene rate (the clip's rate: ``timing`` refuses any other); a dialogue
piece's fractional start (from ``sound_offset``) is a fractional frame value.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from ..xdub_protocol.exceptions import JobError
from .timing import DialoguePiece, MovieSpan

NAMESPACE = "xdub"
SCHEMA = 1
HOST = "blender"


def _time(value: float, rate: float) -> dict[str, Any]:
    return {"OTIO_SCHEMA": "RationalTime.1", "rate": float(rate), "value": float(value)}


def _range(start: float, duration: float, rate: float) -> dict[str, Any]:
    return {
        "OTIO_SCHEMA": "TimeRange.1",
        "start_time": _time(start, rate),
        "duration": _time(duration, rate),
    }


def _item(schema: str, name: str, source_range: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "OTIO_SCHEMA": schema,
        "name": name,
        "metadata": {},
        "source_range": source_range,
        "effects": [],
        "markers": [],
        "enabled": True,
    }


def _gap(duration: float, rate: float) -> dict[str, Any]:
    return _item("Gap.1", "", _range(0.0, duration, rate))


def _clip(path: str, role: str, used: dict[str, Any], available: dict[str, Any] | None) -> Any:
    clip = _item("Clip.2", os.path.basename(path), used)
    clip["metadata"] = {NAMESPACE: {"schema": SCHEMA, "role": role}}
    clip["media_references"] = {
        "DEFAULT_MEDIA": {
            "OTIO_SCHEMA": "ExternalReference.1",
            "name": "",
            "metadata": {},
            "target_url": path,
            "available_range": available,
        }
    }
    clip["active_media_reference_key"] = "DEFAULT_MEDIA"
    return clip


def _track(name: str, kind: str, children: list[dict[str, Any]]) -> dict[str, Any]:
    track = _item("Track.1", name, None)
    track.update(kind=kind, children=children)
    return track


def build_job(
    name: str,
    video_path: str,
    picture: MovieSpan,
    dialogue: list[DialoguePiece],
    *,
    timeline_start: int,
    host_ids: dict[str, Any],
) -> dict[str, Any]:
    """The job timeline. ``timeline_start`` is the timeline frame where the tracks begin (at or
    before ``picture.record_start``); ``dialogue`` is sorted and does not overlap."""
    if timeline_start > picture.record_start:
        raise JobError(f"the timeline starts at {timeline_start}, after the clip", code="bad_job")
    rate = picture.fps
    lead = picture.record_start - timeline_start
    video: list[dict[str, Any]] = [_gap(lead, rate)] if lead else []
    video.append(
        _clip(
            video_path,
            "source",
            _range(picture.start_frame, picture.num_frames, rate),
            _range(0, picture.media_num_frames, rate),
        )
    )
    audio: list[dict[str, Any]] = []
    cursor = -float(lead)  # frames from the picture's left handle
    for piece in dialogue:
        offset = piece.offset_s * rate
        if offset - cursor > 1e-6:
            audio.append(_gap(offset - cursor, rate))
        used = _range(piece.source_start_s * rate, piece.duration_s * rate, rate)
        audio.append(_clip(piece.path, "dialogue", used, None))
        cursor = offset + piece.duration_s * rate
    return {
        "OTIO_SCHEMA": "Timeline.1",
        "name": name,
        "metadata": {
            NAMESPACE: {"schema": SCHEMA, "host": HOST, "host_ids": dict(host_ids)},
        },
        "global_start_time": _time(timeline_start, rate),
        "tracks": {
            **_item("Stack.1", "tracks", None),
            "children": [_track("Video 1", "Video", video), _track("Audio 1", "Audio", audio)],
        },
    }


def job_to_json(timeline: dict[str, Any]) -> str:
    """The OTIO JSON string that ``submit`` carries."""
    return json.dumps(timeline, indent=1, allow_nan=False)


@dataclass(frozen=True)
class TakeInfo:
    """The take of a result timeline: its file, the take-file frame under the source's left
    handle, its rate, and the provenance the daemon recorded."""

    path: str
    first_frame: int
    fps: float
    model: str
    settings: dict[str, Any]
    warnings: tuple[str, ...]


def _seconds(time: dict[str, Any]) -> float:
    return float(time["value"]) / float(time["rate"])


def read_take(result_otio: str) -> TakeInfo:
    """The clip with role ``result`` of a result timeline (``xdub.otio_result`` writes it)."""
    try:
        timeline = json.loads(result_otio)
        takes = [
            clip
            for track in timeline["tracks"]["children"]
            if track.get("kind") == "Video"
            for clip in track["children"]
            if clip.get("metadata", {}).get(NAMESPACE, {}).get("role") == "result"
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise JobError(f"the daemon's result timeline is not readable: {error!r}") from None
    if len(takes) != 1:
        raise JobError(f"the result timeline has {len(takes)} takes, not one")
    take = takes[0]
    info = take["metadata"][NAMESPACE]
    references = take.get("media_references") or {}
    reference = references.get(take.get("active_media_reference_key", "DEFAULT_MEDIA"))
    if reference is None:
        reference = take["media_reference"]
    used = take["source_range"]
    available = reference.get("available_range") or used
    fps = float(used["duration"]["rate"])
    first_s = _seconds(used["start_time"]) - _seconds(available["start_time"])
    return TakeInfo(
        path=str(reference["target_url"]),
        first_frame=round(first_s * fps),
        fps=fps,
        model=str(info.get("model", "")),
        settings=dict(info.get("settings", {})),
        warnings=tuple(info.get("warnings", ())),
    )
