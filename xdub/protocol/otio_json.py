"""The OTIO job timeline as plain JSON, for hosts without ``opentimelineio``.

Stdlib-only and Python 3.10-compatible: hosts' Pythons (Resolve, Blender) get a copy of this
module. ``build_job`` writes the dicts that OTIO's ``otio_json`` adapter reads (``Timeline.1``,
``Stack.1``, ``Track.1``, ``Clip.2``, ``Gap.1``, ``ExternalReference.1``) in the layout of
docs/protocol.md, "The OTIO job"; the daemon validates them with ``xdub.job.timeline.parse_job``.
Each host turns what it reads from its timeline into the plain values below and keeps its own
rules (which item, which dialogue) to itself.

A time is a value in units of ``1 / rate`` seconds: frames at a frame rate, samples at a sample
rate. ``Fraction`` values stay exact until they are written as JSON numbers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from xdub.errors import JobError

NAMESPACE = "xdub"
SCHEMA = 1
ROLE_SOURCE = "source"
ROLE_DIALOGUE = "dialogue"
ROLE_RESULT = "result"
GAP_TOLERANCE_S = 1e-6
"""A silence shorter than this between dialogue clips is not written: it can only be rounding
(one 48 kHz sample is 21 µs)."""

Number = float | Fraction
"""A time value or rate: ``int`` and ``float`` as the host reads them, or an exact ``Fraction``."""


@dataclass(frozen=True)
class Span:
    """``duration`` from ``start``, both in units of ``1 / rate`` seconds (OTIO's
    ``TimeRange``)."""

    start: Number
    duration: Number
    rate: Number

    @property
    def duration_s(self) -> Number:
        return self.duration / self.rate

    def to_json(self) -> dict[str, Any]:
        return {
            "OTIO_SCHEMA": "TimeRange.1",
            "start_time": rational_time(self.start, self.rate),
            "duration": rational_time(self.duration, self.rate),
        }


@dataclass(frozen=True)
class MediaClip:
    """``used`` of the file ``path`` (absolute, as the host spells it), whose media holds
    ``available`` (``None``: not known). ``name`` is the host's name of the clip; an empty one
    becomes the file's name."""

    name: str
    path: str
    used: Span
    available: Span | None = None


@dataclass(frozen=True)
class DialogueClip:
    """A piece of the new dialogue, played ``offset_s`` seconds after the video clip's first
    frame."""

    clip: MediaClip
    offset_s: Number


def rational_time(value: Number, rate: Number) -> dict[str, Any]:
    """OTIO's ``RationalTime``: ``value`` units of ``1 / rate`` seconds."""
    return {"OTIO_SCHEMA": "RationalTime.1", "rate": float(rate), "value": float(value)}


def file_name(path: str) -> str:
    """The last part of ``path``, with ``/`` or ``\\`` separators (hosts on any OS)."""
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _item(schema: str, name: str, source_range: Span | None) -> dict[str, Any]:
    return {
        "OTIO_SCHEMA": schema,
        "name": name,
        "metadata": {},
        "source_range": source_range.to_json() if source_range is not None else None,
        "effects": [],
        "markers": [],
        "enabled": True,
    }


def _gap(duration: Number, rate: Number) -> dict[str, Any]:
    return _item("Gap.1", "", Span(0, duration, rate))


def _clip(media: MediaClip, role: str) -> dict[str, Any]:
    clip = _item("Clip.2", media.name or file_name(media.path), media.used)
    clip["metadata"] = {NAMESPACE: {"schema": SCHEMA, "role": role}}
    clip["media_references"] = {
        "DEFAULT_MEDIA": {
            "OTIO_SCHEMA": "ExternalReference.1",
            "name": "",
            "metadata": {},
            "target_url": media.path,
            "available_range": media.available.to_json() if media.available else None,
        }
    }
    clip["active_media_reference_key"] = "DEFAULT_MEDIA"
    return clip


def _track(name: str, kind: str, children: list[dict[str, Any]]) -> dict[str, Any]:
    track = _item("Track.1", name, None)
    track.update(kind=kind, children=children)
    return track


def _dialogue_track(dialogue: Sequence[DialogueClip], lead_s: Number) -> list[dict[str, Any]]:
    """The audio track's children from the timeline's start, ``lead_s`` before the video clip:
    each piece in time order after the silence before it (written at the piece's rate)."""
    children = []
    cursor_s: Number = -lead_s
    for piece in sorted(dialogue, key=lambda piece: piece.offset_s):
        used = piece.clip.used
        silence_s = piece.offset_s - cursor_s
        if silence_s > GAP_TOLERANCE_S:
            children.append(_gap(silence_s * used.rate, used.rate))
        children.append(_clip(piece.clip, ROLE_DIALOGUE))
        cursor_s = max(cursor_s, piece.offset_s + used.duration_s)
    return children


def build_job(
    source: MediaClip,
    dialogue: Sequence[DialogueClip],
    *,
    name: str,
    host: str,
    rate: Number,
    start_frame: Number,
    record_frame: Number,
    host_ids: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The job timeline that dubs ``source`` with ``dialogue``, as a JSON-ready dict.

    The timeline ``name`` runs at ``rate`` fps from its frame ``start_frame`` (its
    ``global_start_time``), and the video clip starts at its frame ``record_frame`` (a gap
    places it). ``metadata`` adds keys to ``metadata["xdub"]`` beside ``schema``, ``host`` and
    ``host_ids``. Raises ``JobError(code="bad_job")`` when the clip starts before the timeline.
    """
    lead = record_frame - start_frame
    if lead < 0:
        raise JobError(
            f"the timeline starts at frame {start_frame}, after the clip (at {record_frame})",
            code="bad_job",
        )
    video = [_gap(lead, rate)] if lead else []
    video.append(_clip(source, ROLE_SOURCE))
    info = {**(metadata or {}), "schema": SCHEMA, "host": host, "host_ids": dict(host_ids or {})}
    return {
        "OTIO_SCHEMA": "Timeline.1",
        "name": name,
        "metadata": {NAMESPACE: info},
        "global_start_time": rational_time(start_frame, rate),
        "tracks": {
            **_item("Stack.1", "tracks", None),
            "children": [
                _track("Video 1", "Video", video),
                _track("Audio 1", "Audio", _dialogue_track(dialogue, lead / rate)),
            ],
        },
    }


def job_to_json(timeline: Mapping[str, Any]) -> str:
    """The OTIO JSON string that ``submit`` carries."""
    return json.dumps(timeline, allow_nan=False)


# ---------------------------------------------------------------------------------------------
# Reading a result timeline


def media_reference(clip: Mapping[str, Any]) -> dict[str, Any]:
    """A decoded clip's active media reference (``Clip.2``) or its ``media_reference``
    (``Clip.1``); ``{}`` when it has none."""
    references = clip.get("media_references")
    if isinstance(references, dict):
        found = references.get(clip.get("active_media_reference_key", "DEFAULT_MEDIA"))
    else:
        found = clip.get("media_reference")
    return found if isinstance(found, dict) else {}


def clips_with_role(timeline: Any, role: str) -> list[dict[str, Any]]:
    """The clips of a decoded OTIO JSON timeline whose ``metadata["xdub"]["role"]`` is ``role``,
    track by track. Raises ``ValueError`` when ``timeline`` is not a timeline with tracks."""
    try:
        tracks = timeline["tracks"]["children"]
        items = [item for track in tracks for item in track["children"]]
    except (KeyError, TypeError) as error:
        raise ValueError(f"not an OTIO timeline with tracks ({error!r})") from None
    return [
        item
        for item in items
        if isinstance(item, dict)
        and ((item.get("metadata") or {}).get(NAMESPACE) or {}).get("role") == role
    ]
