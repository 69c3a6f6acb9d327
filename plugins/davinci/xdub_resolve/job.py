"""The OTIO job as plain JSON (docs/protocol.md, "The OTIO job"), and reading a result back.

Stdlib-only: Resolve's Python may lack opentimelineio, so this writes the OTIO JSON schema
(``Timeline.1``, ``Track.1``, ``Clip.2``, ``Gap.1``, ``ExternalReference.1``) by hand.
Times are written exactly: a video range in frames at the media's rate and timecode origin, a
dialogue range in samples at its sample rate (or frames at its own rate when that is unknown).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from xdub_resolve.timing import MediaSpan, Piece

NAMESPACE = "xdub"
SCHEMA = 1


def rational_time(value: Fraction | int, rate: Fraction | int) -> dict[str, Any]:
    return {"OTIO_SCHEMA": "RationalTime.1", "rate": float(rate), "value": float(value)}


def time_range(start: Fraction | int, duration: Fraction | int, rate: Fraction | int) -> dict:
    return {
        "OTIO_SCHEMA": "TimeRange.1",
        "start_time": rational_time(start, rate),
        "duration": rational_time(duration, rate),
    }


def _item(schema: str, name: str, source_range: dict, metadata: dict | None = None) -> dict:
    return {
        "OTIO_SCHEMA": schema,
        "name": name,
        "metadata": metadata or {},
        "source_range": source_range,
        "effects": [],
        "markers": [],
        "enabled": True,
    }


def gap(duration_s: Fraction, rate: Fraction | int) -> dict[str, Any]:
    return _item("Gap.1", "", time_range(0, duration_s * rate, rate))


def clip(path: str, used: dict, available: dict | None, role: str) -> dict[str, Any]:
    """A ``Clip.2`` of ``path`` (a bare absolute path, as Resolve writes them) with its role."""
    item = _item("Clip.2", path.replace("\\", "/").rsplit("/", 1)[-1], used)
    item["metadata"] = {NAMESPACE: {"schema": SCHEMA, "role": role}}
    item["media_references"] = {
        "DEFAULT_MEDIA": {
            "OTIO_SCHEMA": "ExternalReference.1",
            "name": "",
            "metadata": {},
            "target_url": path,
            "available_range": available,
        }
    }
    item["active_media_reference_key"] = "DEFAULT_MEDIA"
    return item


@dataclass(frozen=True)
class DialogueSource:
    """A dialogue file and where its pieces go; ``rate`` is its sample rate (or fps)."""

    path: str
    rate: Fraction
    pieces: tuple[Piece, ...]


@dataclass(frozen=True)
class JobSpec:
    """Everything a job needs from the host, in exact numbers."""

    name: str
    video_path: str
    span: MediaSpan
    media_num_frames: int | None
    record_offset_s: Fraction
    """Where the item starts after the timeline's first frame."""
    timeline_fps: Fraction
    timeline_start_frame: int
    dialogue: tuple[DialogueSource, ...]
    host_ids: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    """Resolve's own numbers, for the record (hosts.md §A5 recommends sending both)."""


def build_job(spec: JobSpec) -> dict[str, Any]:
    """The job timeline as an OTIO JSON object."""
    span = spec.span
    rate = span.rate.fps
    origin = span.start_tc_frame - span.start_frame
    available_frames = max(spec.media_num_frames or 0, span.start_frame + span.num_frames)
    source = clip(
        spec.video_path,
        time_range(span.start_tc_frame, span.num_frames, rate),
        time_range(origin, available_frames, rate),
        "source",
    )
    video = [gap(spec.record_offset_s, spec.timeline_fps)] if spec.record_offset_s else []
    video.append(source)
    audio: list[dict[str, Any]] = []
    cursor_s = -spec.record_offset_s
    pieces = sorted(
        ((piece, src) for src in spec.dialogue for piece in src.pieces),
        key=lambda pair: pair[0].offset_s,
    )
    for piece, src in pieces:
        if piece.offset_s > cursor_s:
            audio.append(gap(piece.offset_s - cursor_s, src.rate))
        used = time_range(piece.source_start_s * src.rate, piece.duration_s * src.rate, src.rate)
        audio.append(clip(src.path, used, None, "dialogue"))
        cursor_s = max(cursor_s, piece.offset_s + piece.duration_s)
    return {
        "OTIO_SCHEMA": "Timeline.1",
        "name": spec.name,
        "metadata": {
            NAMESPACE: {
                "schema": SCHEMA,
                "host": "resolve",
                "host_ids": dict(spec.host_ids),
                "timeline_fps": float(spec.timeline_fps),
                "resolve": dict(spec.raw),
            }
        },
        "global_start_time": rational_time(spec.timeline_start_frame, spec.timeline_fps),
        "tracks": {
            "OTIO_SCHEMA": "Stack.1",
            "name": "tracks",
            "metadata": {},
            "source_range": None,
            "effects": [],
            "markers": [],
            "enabled": True,
            "children": [_track("Video 1", "Video", video), _track("Audio 1", "Audio", audio)],
        },
    }


def _track(name: str, kind: str, children: list[dict[str, Any]]) -> dict[str, Any]:
    track = _item("Track.1", name, None)  # type: ignore[arg-type]
    track.update(kind=kind, children=children)
    return track


def job_to_json(job: dict[str, Any]) -> str:
    return json.dumps(job, allow_nan=False)


@dataclass(frozen=True)
class Take:
    """The take of a finished job: the rendered file and its source range in frames."""

    job_id: str
    path: str
    num_frames: int
    host: str
    host_ids: dict[str, Any]


def _reference(item: dict[str, Any]) -> dict[str, Any]:
    references = item.get("media_references")
    if isinstance(references, dict):
        return references.get(item.get("active_media_reference_key", "DEFAULT_MEDIA")) or {}
    return item.get("media_reference") or {}  # Clip.1


def _children(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return [child for child in obj.get("children") or [] if isinstance(child, dict)]


def read_take(result_otio: str) -> Take:
    """The take in a result timeline (its clip with role ``result``); ``ValueError`` if none."""
    timeline = json.loads(result_otio)
    info = timeline.get("metadata", {}).get(NAMESPACE, {})
    for track in _children(timeline.get("tracks") or {}):
        for item in _children(track):
            meta = (item.get("metadata") or {}).get(NAMESPACE) or {}
            if meta.get("role") != "result":
                continue
            duration = item["source_range"]["duration"]
            return Take(
                job_id=str(meta.get("job_id", "")),
                path=str(_reference(item).get("target_url", "")),
                num_frames=round(duration["value"]),
                host=str(info.get("host", "")),
                host_ids=dict(info.get("host_ids") or {}),
            )
    raise ValueError("the result timeline has no clip with role 'result'")
