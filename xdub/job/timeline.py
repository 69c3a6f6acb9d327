"""The OTIO job: the timeline a host submits, its validation, the dialogue plan and the result.

A job is one OTIO ``Timeline`` (docs/protocol.md, "The OTIO job"): one video track holding the
clip to dub (gaps before it place it), one audio track holding the replacement dialogue over
the same span (clips and gaps; gaps are silence), and ``metadata["xdub"]`` with the schema,
host and host ids. Other metadata namespaces (``Resolve_OTIO`` ...) pass through untouched.
Every invalid job raises ``JobError(code="bad_job")`` naming the track, clip or range.

``DialogueSpan`` is the plan for rendering the dialogue as pure data: which file to read from
where, where each piece goes in the take, and where the silences are. Rendering it to samples
belongs to ``xdub.media`` (not written yet).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

import opentimelineio as otio
from opentimelineio.opentime import RationalTime, TimeRange

from xdub.errors import JobError
from xdub.protocol.otio_json import NAMESPACE, ROLE_DIALOGUE, ROLE_SOURCE, SCHEMA
from xdub.protocol.otio_json import ROLE_RESULT as ROLE_RESULT

log = logging.getLogger(__name__)

MAX_JOB_BYTES = 2 * 2**20
"""A job's OTIO JSON is refused above 2 MiB (a one-clip job is a few KB; its metadata, even a
host's, far less than this). At this size opentimelineio parses in about 0.3 s."""
MAX_JOB_DEPTH = 64
"""Nesting deeper than this is refused before opentimelineio sees it (a job is about 10 deep;
opentimelineio recurses per level: 10,000 levels took 9 s and 50,000 crashed the process)."""
SPAN_TOLERANCE_S = 0.5e-3
"""Slack when comparing times of different rates (23.976 fps frames vs 48 kHz samples): far
below one video frame (>= 8 ms) and a few samples wide, so rounding never fails a job."""


def bad_job(message: str, hint: str | None = None) -> JobError:
    """The error for an invalid job."""
    return JobError(message, code="bad_job", hint=hint)


def plain(value: Any) -> Any:
    """OTIO's AnyDictionary/AnyVector -> dict/list, recursively."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)) or type(value).__name__ == "AnyVector":
        return [plain(item) for item in value]
    return value


# ---------------------------------------------------------------------------------------------
# Building a job


@dataclass(frozen=True)
class SourceClip:
    """The clip to dub: ``source_range`` in the media's own rate and timecode origin."""

    path: Path
    source_range: TimeRange
    available_range: TimeRange | None = None
    record_start: RationalTime | None = None
    """Where the clip sits on its track (default: the track's start)."""


@dataclass(frozen=True)
class DialogueClip:
    """A piece of replacement dialogue placed ``offset`` after the start of the video clip."""

    path: Path
    source_range: TimeRange
    offset: RationalTime
    available_range: TimeRange | None = None


def media_clip(path: Path, source_range: TimeRange, available: TimeRange | None, role: str) -> Any:
    """A clip of ``path`` with its xdub ``role``."""
    reference = otio.schema.ExternalReference(target_url=str(path), available_range=available)
    return otio.schema.Clip(
        name=path.name,
        media_reference=reference,
        source_range=source_range,
        metadata={NAMESPACE: {"schema": SCHEMA, "role": role}},
    )


def silence(duration: RationalTime) -> Any:
    """A gap of ``duration``."""
    return otio.schema.Gap(source_range=TimeRange(RationalTime(0, duration.rate), duration))


def build_job(
    source: SourceClip,
    dialogue: Sequence[DialogueClip],
    *,
    name: str,
    host: str,
    host_ids: Mapping[str, Any] | None = None,
    global_start_time: RationalTime | None = None,
    warnings: Sequence[str] = (),
) -> Any:
    """The job timeline for ``source`` dubbed with ``dialogue`` (sorted by offset, no overlap).

    ``warnings``: what the builder already knows the editor must hear (e.g. dialogue cut to
    the clip); they lead the job's warnings."""
    timeline = otio.schema.Timeline(name=name, global_start_time=global_start_time)
    timeline.metadata[NAMESPACE] = {
        "schema": SCHEMA,
        "host": host,
        "host_ids": dict(host_ids or {}),
    }
    if warnings:
        timeline.metadata[NAMESPACE]["warnings"] = list(warnings)
    video = otio.schema.Track(name="Video 1", kind=otio.schema.TrackKind.Video)
    audio = otio.schema.Track(name="Audio 1", kind=otio.schema.TrackKind.Audio)
    start = source.record_start or RationalTime(0, source.source_range.duration.rate)
    if start.value > 0:
        video.append(silence(start))
    video.append(media_clip(source.path, source.source_range, source.available_range, ROLE_SOURCE))
    cursor = RationalTime(0, start.rate)
    for piece in sorted(dialogue, key=lambda clip: clip.offset.to_seconds()):
        position = start + piece.offset
        if (position - cursor).to_seconds() > SPAN_TOLERANCE_S:
            audio.append(silence((position - cursor).rescaled_to(piece.source_range.duration.rate)))
        audio.append(
            media_clip(piece.path, piece.source_range, piece.available_range, ROLE_DIALOGUE)
        )
        cursor = position + piece.source_range.duration
    timeline.tracks.extend([video, audio])
    return timeline


def job_to_json(timeline: Any) -> str:
    """A timeline as the OTIO JSON string that ``submit`` carries."""
    return str(otio.adapters.write_to_string(timeline, "otio_json"))


# ---------------------------------------------------------------------------------------------
# Parsing a job


@dataclass(frozen=True)
class DialogueSegment:
    """Read ``duration_s`` from ``path`` at ``source_start_s`` (from the file's first sample)
    and place it at ``offset_s`` in the take (from its first frame)."""

    path: Path
    source_start_s: float
    duration_s: float
    offset_s: float


@dataclass(frozen=True)
class SilenceGap:
    offset_s: float
    duration_s: float


@dataclass(frozen=True)
class DialogueSpan:
    """The dialogue of a take ``duration_s`` long: segments in order, and the silences between."""

    duration_s: float
    segments: tuple[DialogueSegment, ...]
    gaps: tuple[SilenceGap, ...]


@dataclass(frozen=True)
class DubJob:
    """A validated job. Video times are seconds from the file's first frame, at ``fps``.
    ``name`` is the timeline's name, ``clip_name`` the video clip's (its file's name when the
    clip has none)."""

    name: str
    clip_name: str
    host: str
    host_ids: dict[str, Any]
    video_path: Path
    fps: float
    start_frame: int
    num_frames: int
    record_start_s: float
    dialogue: DialogueSpan
    warnings: tuple[str, ...]
    timeline: Any = field(compare=False, repr=False)

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps


def _media_path(clip: Any, what: str, check_files: bool) -> Path:
    reference = clip.media_reference
    if not isinstance(reference, otio.schema.ExternalReference):
        raise bad_job(
            f"{what} refers to a {reference.schema_name()}, not an ExternalReference to a file",
            hint="image sequences and generated media cannot be dubbed; render the clip first",
        )
    url = reference.target_url or ""
    parsed = urlparse(url)
    text = url2pathname(unquote(parsed.path)) if parsed.scheme == "file" else url
    if not os.path.isabs(text):
        raise bad_job(
            f"{what} path {url!r} is not absolute", hint="write the full path of the file"
        )
    path = Path(text)
    if check_files and path.is_dir():
        raise bad_job(f"{what} path {path} is a folder, not a media file", hint="relink the media")
    if check_files and not path.is_file():
        raise bad_job(f"{what} file {path} does not exist", hint="relink the media, then retry")
    return path


def _used_range(clip: Any, what: str) -> tuple[TimeRange, float]:
    """The clip's range in its media, and where it starts in seconds from the file's start."""
    available = clip.media_reference.available_range
    used = clip.source_range or available
    if used is None:
        raise bad_job(f"{what} has neither a source_range nor an available_range")
    if used.duration.value <= 0:
        raise bad_job(f"{what} has an empty or negative duration {used.duration.value}")
    origin = (
        available.start_time if available is not None else RationalTime(0, used.start_time.rate)
    )
    start_s = (used.start_time - origin).to_seconds()
    if start_s < -SPAN_TOLERANCE_S:
        raise bad_job(f"{what} starts {-start_s:.3f} s before its media")
    if available is not None:
        overrun_s = (used.end_time_exclusive() - available.end_time_exclusive()).to_seconds()
        if overrun_s > SPAN_TOLERANCE_S:
            raise bad_job(f"{what} asks for {overrun_s:.3f} s more than its media holds")
    return used, max(start_s, 0.0)


def _check_role(item: Any, expected: str, what: str) -> None:
    role = plain(item.metadata.get(NAMESPACE, {})).get("role", expected)
    if role != expected:
        raise bad_job(f"{what} has role {role!r}, not {expected!r}")


def _children(track: Any, what: str) -> list[Any]:
    for child in track:
        if isinstance(child, otio.schema.Transition):
            raise bad_job(f"{what} holds a transition; render it or remove it first")
        if not isinstance(child, (otio.schema.Clip, otio.schema.Gap)):
            raise bad_job(f"{what} holds a {child.schema_name()}; compound clips are not supported")
        if isinstance(child, otio.schema.Clip) and child.effects:
            raise bad_job(f"{what} clip {child.name!r} is retimed or has effects; not supported")
    return list(track)


def _builder_warnings(timeline: Any) -> list[str]:
    found = plain(timeline.metadata.get(NAMESPACE)).get("warnings", [])
    if not isinstance(found, list) or not all(isinstance(text, str) for text in found):
        raise bad_job("metadata['xdub']['warnings'] must be a list of strings")
    return found


def _host_info(timeline: Any) -> tuple[str, dict[str, Any]]:
    info = plain(timeline.metadata.get(NAMESPACE))
    if not isinstance(info, dict):
        raise bad_job("the timeline has no metadata['xdub']; it is not an xdub job")
    schema = info.get("schema")
    if not isinstance(schema, int) or schema < 1:
        raise bad_job(f"metadata['xdub']['schema'] is {schema!r}, not a schema number")
    if schema > SCHEMA:
        raise bad_job(f"job schema {schema} is newer than this daemon's {SCHEMA}", "update xdub")
    host, host_ids = info.get("host"), info.get("host_ids", {})
    if not isinstance(host, str) or not host:
        raise bad_job("metadata['xdub']['host'] must name the host (e.g. 'resolve')")
    if not isinstance(host_ids, dict):
        raise bad_job("metadata['xdub']['host_ids'] must be an object")
    return host, host_ids


def _source_clip(timeline: Any, check_files: bool) -> tuple[Any, Path]:
    tracks = timeline.video_tracks()
    if len(tracks) != 1:
        found = "no video track" if not tracks else f"{len(tracks)} video tracks"
        raise bad_job(f"a job has exactly one video track, this one has {found}")
    what = f"track {tracks[0].name!r}"
    clips = [c for c in _children(tracks[0], what) if isinstance(c, otio.schema.Clip)]
    if len(clips) != 1:
        raise bad_job(
            f"{what} holds {len(clips)} clips; a job dubs exactly one clip",
            hint="select a single clip before choosing Dub clip",
        )
    clip = clips[0]
    what = f"video clip {clip.name!r}"
    if not clip.enabled:
        raise bad_job(f"{what} is disabled")
    _check_role(clip, ROLE_SOURCE, what)
    return clip, _media_path(clip, what, check_files)


def _dialogue_segments(timeline: Any, span: TimeRange, check_files: bool) -> list[DialogueSegment]:
    tracks = timeline.audio_tracks()
    if len(tracks) != 1:
        found = "no audio track" if not tracks else f"{len(tracks)} audio tracks"
        raise bad_job(f"a job has exactly one audio track with the dialogue, this one has {found}")
    span_start_s = span.start_time.to_seconds()
    span_end_s = span.end_time_exclusive().to_seconds()
    segments = []
    for item in _children(tracks[0], f"track {tracks[0].name!r}"):
        if not isinstance(item, otio.schema.Clip) or not item.enabled:
            continue  # gaps and muted clips are silence
        what = f"dialogue clip {item.name!r}"
        _check_role(item, ROLE_DIALOGUE, what)
        path = _media_path(item, what, check_files)
        used, source_start_s = _used_range(item, what)
        placed = item.range_in_parent()
        start_s = placed.start_time.to_seconds()
        end_s = placed.end_time_exclusive().to_seconds()
        if start_s < span_start_s - SPAN_TOLERANCE_S:
            raise bad_job(f"{what} starts {span_start_s - start_s:.3f} s before the video clip")
        if end_s > span_end_s + SPAN_TOLERANCE_S:
            raise bad_job(f"{what} ends {end_s - span_end_s:.3f} s after the video clip")
        offset_s = max(start_s - span_start_s, 0.0)
        duration_s = min(used.duration.to_seconds(), span_end_s - span_start_s - offset_s)
        segments.append(DialogueSegment(path, source_start_s, duration_s, offset_s))
    if not segments:
        raise bad_job(
            "no dialogue clip lies under the video clip", hint="add the new dialogue on A1"
        )
    return segments


def plan_dialogue_span(segments: Sequence[DialogueSegment], duration_s: float) -> DialogueSpan:
    """The span of ``duration_s`` seconds: ``segments`` in order and the silences around them."""
    ordered = sorted(segments, key=lambda segment: segment.offset_s)
    gaps = []
    cursor_s = 0.0
    for segment in ordered:
        if segment.offset_s - cursor_s > SPAN_TOLERANCE_S:
            gaps.append(SilenceGap(cursor_s, segment.offset_s - cursor_s))
        cursor_s = max(cursor_s, segment.offset_s + segment.duration_s)
    if duration_s - cursor_s > SPAN_TOLERANCE_S:
        gaps.append(SilenceGap(cursor_s, duration_s - cursor_s))
    return DialogueSpan(duration_s, tuple(ordered), tuple(gaps))


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object; a key given twice is refused (which one wins differs between parsers)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        keys = [key for key, _ in pairs]
        twice = next(key for key in obj if keys.count(key) > 1)
        raise ValueError(f"the key {twice!r} appears twice in one object")
    return obj


def _nesting_depth(obj: Any) -> int:
    """How deeply lists and objects nest in decoded JSON (a scalar is 0), without recursion."""
    deepest = 0
    pending = [(obj, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1) for child in item)
    return deepest


def check_job_text(otio_json: str) -> None:
    """Refuse with ``bad_job`` a job text that is too large, not JSON, or nested too deeply;
    cheap (the stdlib's C decoder), and run before opentimelineio, which recurses per level."""
    size_bytes = len(otio_json.encode("utf-8", "surrogatepass"))
    if size_bytes > MAX_JOB_BYTES:
        raise bad_job(
            f"the job is {size_bytes} bytes of OTIO JSON, more than the {MAX_JOB_BYTES} allowed",
            hint="a job holds one clip and its dialogue; leave bulky metadata out",
        )
    try:
        obj = json.loads(otio_json, parse_constant=_refuse_constant, object_pairs_hook=_unique)
    except RecursionError:
        obj, depth = None, MAX_JOB_DEPTH + 1
    except ValueError as error:
        raise bad_job(f"the job is not valid OTIO JSON: {error}") from None
    else:
        depth = _nesting_depth(obj)
    if depth > MAX_JOB_DEPTH:
        raise bad_job(
            f"the job's JSON is nested more than {MAX_JOB_DEPTH} levels deep",
            hint="a job timeline is about 10 levels deep; this is not one",
        )


def parse_job(otio_json: str, *, check_files: bool = True) -> DubJob:
    """Validate a job timeline; raises ``JobError(code="bad_job")`` saying what is wrong."""
    check_job_text(otio_json)
    try:
        timeline = otio.adapters.read_from_string(otio_json, "otio_json")
    except (ValueError, KeyError, TypeError) as error:
        raise bad_job(f"the job is not valid OTIO JSON: {error}") from None
    if not isinstance(timeline, otio.schema.Timeline):
        raise bad_job(f"the job is a {type(timeline).__name__}, not a Timeline")
    host, host_ids = _host_info(timeline)
    clip, video_path = _source_clip(timeline, check_files)
    used, start_s = _used_range(clip, f"video clip {clip.name!r}")
    span = clip.range_in_parent()
    fps = (clip.media_reference.available_range or used).duration.rate
    num_frames = round(used.duration.rescaled_to(fps).value)
    plan = plan_dialogue_span(_dialogue_segments(timeline, span, check_files), num_frames / fps)
    warnings = _builder_warnings(timeline)
    if plan.gaps and plan.gaps[-1].offset_s + plan.gaps[-1].duration_s >= plan.duration_s:
        trailing_s = plan.gaps[-1].duration_s
        warnings.append(
            f"the dialogue ends {trailing_s:.2f} s before the clip; the rest is silence"
        )
    return DubJob(
        name=timeline.name,
        clip_name=clip.name or video_path.name,
        host=host,
        host_ids=host_ids,
        video_path=video_path,
        fps=fps,
        start_frame=round(start_s * fps),
        num_frames=num_frames,
        record_start_s=span.start_time.to_seconds(),
        dialogue=plan,
        warnings=tuple(warnings),
        timeline=timeline,
    )
