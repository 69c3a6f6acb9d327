"""The one reader of a job's take: the clip with role ``result`` of its result timeline.

Stdlib-only and Python 3.10-compatible: the Resolve and Blender plugins read takes with a copy
of this module, and the daemon's ``xdub.job.result.parse_result`` with this one. It is strict:
a result timeline has exactly one take, every field it reads is checked, and anything else is a
``JobError`` (code ``bad_job``) that says which field is wrong. Times come back exact
(``Fraction``), counted as docs/protocol.md says: the take's used range in frames of its own
rate, from the media's first frame (``first_frame``) and in its timecode (``start_tc_frame``),
and where it sits on the result timeline (``record_start_s``, seconds from the timeline's
first frame).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from xdub.errors import JobError
from xdub.protocol.errors import ErrorCode
from xdub.protocol.otio_json import NAMESPACE, ROLE_RESULT, media_reference

_HINT = "the daemon wrote a result this xdub cannot read; update the plugin and the daemon together"


def _bad(message: str) -> JobError:
    return JobError(f"the result timeline {message}", code=ErrorCode.BAD_JOB.value, hint=_HINT)


@dataclass(frozen=True)
class Take:
    """A finished job's take, read from its result timeline."""

    job_id: str
    path: str
    rate: Fraction
    """The take's frame rate (its clip's ``source_range`` rate)."""
    first_frame: int
    """The take's first frame, counted from its media's first frame."""
    start_tc_frame: int
    """The same frame in the media's timecode (OTIO's timecode-absolute source time)."""
    num_frames: int
    record_start_s: Fraction
    """Where the take starts, seconds after the result timeline's first frame."""
    model: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    speed: dict[str, Any] = field(default_factory=dict)
    """What the speed plan did (``xdub.speed``): steps cached, preset; ``{}`` when none."""
    host: str = ""
    host_ids: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> Fraction:
        return self.num_frames / self.rate


def _time(value: Any, where: str) -> tuple[Fraction, Fraction]:
    """A ``RationalTime`` as (value, rate), both finite, the rate positive."""
    if not isinstance(value, Mapping):
        raise _bad(f"has no {where}")
    numbers = []
    for key in ("value", "rate"):
        number = value.get(key)
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise _bad(f"{where}.{key} is {number!r}, not a number")
        if not math.isfinite(number):
            raise _bad(f"{where}.{key} is not finite")
        numbers.append(Fraction(number))
    if numbers[1] <= 0:
        raise _bad(f"{where}.rate {value.get('rate')!r} is not positive")
    return numbers[0], numbers[1]


def _frames(value: Fraction, where: str) -> int:
    """``value`` as a whole frame count; a rounding error below a thousandth is tolerated."""
    whole = round(value)
    if abs(value - whole) > Fraction(1, 1000):
        raise _bad(f"{where} {float(value)} is not a whole number of frames")
    return whole


def _range(clip: Mapping[str, Any], key: str) -> tuple[Fraction, Fraction, Fraction]:
    """A ``TimeRange`` as (start, duration, rate) at the rate of its duration."""
    span = clip.get(key)
    if not isinstance(span, Mapping):
        raise _bad(f"take has no {key}")
    start, start_rate = _time(span.get("start_time"), f"take {key}.start_time")
    duration, rate = _time(span.get("duration"), f"take {key}.duration")
    return start * rate / start_rate, duration, rate


def _item_seconds(item: Mapping[str, Any], where: str) -> Fraction:
    """How long a track's gap or clip lasts, in seconds."""
    if not isinstance(item.get("source_range"), Mapping):
        raise _bad(f"{where} has no source_range")
    _, duration, rate = _range(item, "source_range")
    return duration / rate


def _find_take(timeline: Mapping[str, Any]) -> tuple[Mapping[str, Any], Fraction]:
    """The one clip with role ``result``, and the seconds before it on its track."""
    tracks = timeline.get("tracks")
    children = tracks.get("children") if isinstance(tracks, Mapping) else None
    if not isinstance(children, list):
        raise _bad("has no tracks")
    found = []
    for track in children:
        items = track.get("children") if isinstance(track, Mapping) else None
        if not isinstance(items, list):
            raise _bad("has a track without children")
        for index, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise _bad("has a track item that is not an object")
            info = (item.get("metadata") or {}).get(NAMESPACE) or {}
            if isinstance(info, Mapping) and info.get("role") == ROLE_RESULT:
                lead_s = sum(
                    (_item_seconds(before, f"item {before.get('name', '')!r}")
                     for before in items[:index]),
                    Fraction(0),
                )  # fmt: skip
                found.append((item, lead_s))
    if len(found) != 1:
        raise _bad(f"has {len(found)} clips with role 'result', not one")
    return found[0]


def _text(info: Mapping[str, Any], key: str, *, required: bool = False) -> str:
    value = info.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise _bad(f"take's metadata.xdub.{key} is {value!r}, not a text")
    return value


def read_take(result_otio: str | Mapping[str, Any]) -> Take:
    """The take of a result timeline (its JSON text or the decoded object); strict."""
    if isinstance(result_otio, str):
        try:
            timeline = json.loads(result_otio)
        except ValueError as error:
            raise _bad(f"is not JSON ({error})") from None
    else:
        timeline = result_otio
    if not isinstance(timeline, Mapping) or timeline.get("OTIO_SCHEMA") != "Timeline.1":
        raise _bad("is not an OTIO Timeline.1")
    clip, record_start_s = _find_take(timeline)
    info = clip["metadata"][NAMESPACE]
    start, duration, rate = _range(clip, "source_range")
    reference = media_reference(clip)
    path = reference.get("target_url")
    if not isinstance(path, str) or not path:
        raise _bad("take has no media reference with a target_url")
    origin = start
    if reference.get("available_range") is not None:
        available_start, _, available_rate = _range(reference, "available_range")
        origin = available_start * rate / available_rate
    warnings = info.get("warnings", [])
    settings = info.get("settings", {})
    if not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings):
        raise _bad("take's metadata.xdub.warnings is not a list of texts")
    if not isinstance(settings, Mapping):
        raise _bad("take's metadata.xdub.settings is not an object")
    speed = info.get("speed", {})
    if not isinstance(speed, Mapping):
        raise _bad("take's metadata.xdub.speed is not an object")
    job_info = (timeline.get("metadata") or {}).get(NAMESPACE) or {}
    host_ids = job_info.get("host_ids") or {}
    if not isinstance(host_ids, Mapping):
        raise _bad("metadata.xdub.host_ids is not an object")
    num_frames = _frames(duration, "take duration")
    if num_frames <= 0:
        raise _bad(f"take lasts {num_frames} frames")
    return Take(
        job_id=_text(info, "job_id", required=True),
        path=path,
        rate=rate,
        first_frame=_frames(start - origin, "take first frame"),
        start_tc_frame=_frames(start, "take start_time"),
        num_frames=num_frames,
        record_start_s=record_start_s,
        model=_text(info, "model"),
        settings=dict(settings),
        warnings=tuple(warnings),
        speed=dict(speed),
        host=_text(job_info, "host"),
        host_ids=dict(host_ids),
    )
