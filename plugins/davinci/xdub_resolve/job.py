"""The OTIO job of a Resolve timeline item (docs/protocol.md, "The OTIO job").

Stdlib-only: Resolve's Python may lack opentimelineio, so the vendored
``xdub_protocol.otio_json`` writes the JSON (and ``xdub_protocol.takes`` reads the result).
Times are exact: a video range in frames at the media's rate and timecode origin, a dialogue
range in samples at its sample rate (or frames at its own rate when that is unknown).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from xdub_resolve.timing import MediaSpan, Piece
from xdub_resolve.xdub_protocol import otio_json
from xdub_resolve.xdub_protocol.otio_json import (
    DialogueClip,
    MediaClip,
    Span,
    file_name,
)

HOST = "resolve"


@dataclass(frozen=True)
class DialogueSource:
    """A dialogue file and where its pieces go; ``rate`` is its sample rate (or fps)."""

    path: str
    rate: Fraction
    pieces: tuple[Piece, ...]


@dataclass(frozen=True)
class JobSpec:
    """Everything a job needs from the host, in exact numbers. ``name`` is the timeline's,
    ``clip_name`` the video item's."""

    name: str
    clip_name: str
    video_path: str
    span: MediaSpan
    media_num_frames: int | None
    record_start_frame: int
    """Where the item starts on the timeline."""
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
    source = MediaClip(
        spec.clip_name,
        spec.video_path,
        used=Span(span.start_tc_frame, span.num_frames, rate),
        available=Span(origin, available_frames, rate),
    )
    dialogue = [
        DialogueClip(
            MediaClip(
                file_name(src.path),
                src.path,
                used=Span(piece.source_start_s * src.rate, piece.duration_s * src.rate, src.rate),
            ),
            piece.offset_s,
        )
        for src in spec.dialogue
        for piece in src.pieces
    ]
    return otio_json.build_job(
        source,
        dialogue,
        name=spec.name,
        host=HOST,
        rate=spec.timeline_fps,
        start_frame=spec.timeline_start_frame,
        record_frame=spec.record_start_frame,
        host_ids=spec.host_ids,
        metadata={"timeline_fps": float(spec.timeline_fps), "resolve": dict(spec.raw)},
    )
