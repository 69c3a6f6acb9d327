"""The OTIO job of a movie strip and its dialogue (docs/protocol.md, "The OTIO job"), and
reading the result back.

Blender's Python has no ``opentimelineio``: the vendored ``xdub_protocol.otio_json`` writes the
JSON. Times are in scene frames at the scene rate (the clip's rate: ``timing`` refuses any
other); a dialogue piece's fractional start (from ``sound_offset``) is a fractional frame value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..xdub_protocol import otio_json
from ..xdub_protocol.exceptions import JobError
from ..xdub_protocol.otio_json import (
    NAMESPACE,
    ROLE_RESULT,
    DialogueClip,
    MediaClip,
    Span,
    clips_with_role,
    file_name,
    media_reference,
)
from .timing import DialoguePiece, MovieSpan

HOST = "blender"


def build_job(
    name: str,
    video_path: str,
    picture: MovieSpan,
    dialogue: list[DialoguePiece],
    *,
    clip_name: str,
    timeline_start: int,
    host_ids: dict[str, Any],
) -> dict[str, Any]:
    """The job timeline ``name`` (the scene's) dubbing the movie strip ``clip_name``.
    ``timeline_start`` is the timeline frame where the tracks begin (at or before
    ``picture.record_start``); ``dialogue`` is sorted and does not overlap."""
    rate = picture.fps
    source = MediaClip(
        clip_name,
        video_path,
        used=Span(picture.start_frame, picture.num_frames, rate),
        available=Span(0, picture.media_num_frames, rate),
    )
    pieces = [
        DialogueClip(
            MediaClip(
                file_name(piece.path),
                piece.path,
                used=Span(piece.source_start_s * rate, piece.duration_s * rate, rate),
            ),
            piece.offset_s,
        )
        for piece in dialogue
    ]
    return otio_json.build_job(
        source,
        pieces,
        name=name,
        host=HOST,
        rate=rate,
        start_frame=timeline_start,
        record_frame=picture.record_start,
        host_ids=host_ids,
    )


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
        takes = clips_with_role(json.loads(result_otio), ROLE_RESULT)
    except ValueError as error:
        raise JobError(f"the daemon's result timeline is not readable: {error}") from None
    if len(takes) != 1:
        raise JobError(f"the result timeline has {len(takes)} takes, not one")
    take = takes[0]
    info = take["metadata"][NAMESPACE]
    reference = media_reference(take)
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
