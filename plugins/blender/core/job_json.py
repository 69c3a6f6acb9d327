"""The OTIO job of a movie strip and its dialogue (docs/protocol.md, "The OTIO job").

Blender's Python has no ``opentimelineio``: the vendored ``xdub_protocol.otio_json`` writes the
JSON (and ``xdub_protocol.takes.read_take``, the hosts' one reader, reads the result). Times
are in scene frames at the scene rate (the clip's rate: ``timing`` refuses any other); a
dialogue piece's fractional start (from ``sound_offset``) is a fractional frame value.
"""

from __future__ import annotations

from typing import Any

from ..xdub_protocol import otio_json
from ..xdub_protocol.otio_json import (
    DialogueClip,
    MediaClip,
    Span,
    file_name,
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
