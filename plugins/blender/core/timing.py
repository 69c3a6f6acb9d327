"""Host frames <-> media-relative ranges for VSE strips (docs/blender.md, "Time").

Blender's timing fields, all in scene frames (``frame_final_end`` exclusive):

- ``frame_start``: where the first frame left after the hard trim sits on the timeline;
- ``frame_final_start`` / ``frame_final_end``: the visible left and right handles;
- ``animation_offset_start`` / ``animation_offset_end``: hard trims of the source, in frames;
- ``frame_duration``: the content length after the hard trims (media frames, played 1:1).

So the media frame under the left handle is
``frame_final_start - frame_start + animation_offset_start``, and a sound strip's media time
there is that many scene frames in seconds plus its ``sound_offset``. The VSE plays a movie one
media frame per scene frame, so a clip whose rate differs from the scene's is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..xdub_protocol.exceptions import JobError, MediaError

FPS_TOLERANCE = 1e-4
"""Relative slack when comparing frame rates: 30000/1001 vs 29.97 differ by 3e-5."""


def scene_fps(fps: int, fps_base: float) -> float:
    """``render.fps / render.fps_base`` in frames per second."""
    if fps <= 0 or fps_base <= 0:
        raise MediaError(f"scene frame rate {fps}/{fps_base} is not positive")
    return fps / fps_base


def same_rate(a_fps: float, b_fps: float) -> bool:
    """Whether two frame rates are the same up to float rounding of NTSC rates."""
    return math.isclose(a_fps, b_fps, rel_tol=FPS_TOLERANCE)


def _whole_frame(value: float, what: str) -> int:
    rounded = round(value)
    if abs(value - rounded) > 1e-3:
        raise MediaError(
            f"{what} is at sub-frame {value:.3f}", hint="snap the strip to whole frames first"
        )
    return int(rounded)


@dataclass(frozen=True)
class StripTiming:
    """A strip's timing fields as the VSE reports them (see the module docstring)."""

    name: str
    frame_start: float
    frame_final_start: int
    frame_final_end: int
    animation_offset_start: int = 0
    animation_offset_end: int = 0
    frame_duration: int = 0

    @property
    def num_frames(self) -> int:
        """Visible length in scene frames."""
        return self.frame_final_end - self.frame_final_start

    @property
    def source_offset_frames(self) -> float:
        """Frames from the start of the media to the left handle (may be fractional)."""
        return self.frame_final_start - self.frame_start + self.animation_offset_start


@dataclass(frozen=True)
class MovieSpan:
    """What a movie strip shows: media frames ``[start_frame, start_frame + num_frames)`` of a
    file ``media_num_frames`` long at ``fps``, placed at timeline frame ``record_start``."""

    start_frame: int
    num_frames: int
    media_num_frames: int
    fps: float
    record_start: int

    @property
    def record_end(self) -> int:
        """Timeline frame after the last one (exclusive)."""
        return self.record_start + self.num_frames


def movie_span(timing: StripTiming, media_fps: float, timeline_fps: float) -> MovieSpan:
    """The media-relative range of a movie strip; refuses what the take could not match."""
    if not same_rate(media_fps, timeline_fps):
        raise MediaError(
            f"strip {timing.name!r} is {media_fps:.3f} fps but the scene is {timeline_fps:.3f} fps;"
            " the VSE plays it at the scene rate, so its picture and sound drift apart",
            hint=f"set the scene frame rate to {media_fps:.3f} fps (Output properties), or "
            "conform the clip to the scene rate before dubbing",
        )
    if timing.num_frames <= 0:
        raise MediaError(f"strip {timing.name!r} is empty ({timing.num_frames} frames)")
    start = _whole_frame(timing.source_offset_frames, f"the left handle of {timing.name!r}")
    media_num_frames = (
        timing.frame_duration + timing.animation_offset_start + timing.animation_offset_end
    )
    if start < 0 or start + timing.num_frames > media_num_frames:
        raise MediaError(
            f"strip {timing.name!r} shows media frames {start}-{start + timing.num_frames - 1} "
            f"but its file has frames 0-{media_num_frames - 1} (handles extended past the media)",
            hint="drag the strip's handles back inside the clip",
        )
    return MovieSpan(
        start_frame=start,
        num_frames=timing.num_frames,
        media_num_frames=media_num_frames,
        fps=media_fps,
        record_start=timing.frame_final_start,
    )


@dataclass(frozen=True)
class SoundStripTiming:
    """A sound strip: its timing, its file and ``sound_offset_s`` (Blender's ``sound_offset``)."""

    timing: StripTiming
    path: str
    sound_offset_s: float = 0.0


@dataclass(frozen=True)
class DialoguePiece:
    """Read ``duration_s`` of ``path`` from ``source_start_s`` (from the file's start) and play
    it ``offset_s`` after the picture's left handle."""

    name: str
    path: str
    source_start_s: float
    duration_s: float
    offset_s: float


def dialogue_pieces(
    picture: MovieSpan, sounds: list[SoundStripTiming], timeline_fps: float
) -> list[DialoguePiece]:
    """The parts of ``sounds`` under the picture, clipped to it, in time order.

    Sounds outside the picture are left out; overlapping sounds are refused (one dialogue line
    at a time: mix them down first). Raises ``bad_job`` when nothing is left.
    """
    pieces = []
    for sound in sounds:
        timing = sound.timing
        start = max(timing.frame_final_start, picture.record_start)
        end = min(timing.frame_final_end, picture.record_end)
        if end <= start:
            continue
        source_frames = timing.source_offset_frames + (start - timing.frame_final_start)
        pieces.append(
            DialoguePiece(
                name=timing.name,
                path=sound.path,
                source_start_s=source_frames / timeline_fps + sound.sound_offset_s,
                duration_s=(end - start) / timeline_fps,
                offset_s=(start - picture.record_start) / timeline_fps,
            )
        )
    pieces.sort(key=lambda piece: piece.offset_s)
    if not pieces:
        raise JobError(
            "no selected sound strip lies under the picture",
            code="bad_job",
            hint="select the new dialogue's sound strips with the movie strip, or pick a file",
        )
    for before, after in zip(pieces, pieces[1:], strict=False):
        if before.offset_s + before.duration_s > after.offset_s + 0.5 / timeline_fps:
            raise JobError(
                f"sound strips {before.name!r} and {after.name!r} overlap",
                code="bad_job",
                hint="the dialogue must be one line at a time: trim them or mix them down",
            )
    for piece in pieces:
        if piece.source_start_s < -1e-6:
            raise MediaError(
                f"sound strip {piece.name!r} starts {-piece.source_start_s:.3f} s before its file",
                hint="set its sound offset to 0 or more",
            )
    return pieces


def file_dialogue(picture: MovieSpan, path: str) -> list[DialoguePiece]:
    """A whole audio file as the dialogue, from the picture's left handle on."""
    return [DialoguePiece("dialogue", path, 0.0, picture.num_frames / picture.fps, 0.0)]


@dataclass(frozen=True)
class TakePlacement:
    """Where a take goes: ``frame_start`` (its frame 0 on the timeline) and the visible range
    ``[frame_final_start, frame_final_end)``, equal to the original's."""

    frame_start: int
    frame_final_start: int
    frame_final_end: int


def take_placement(
    picture: MovieSpan, take_first_frame: int, take_num_frames: int, take_fps: float
) -> TakePlacement:
    """Place a take over exactly the picture's frames.

    ``take_first_frame`` is the take-file frame that matches the picture's left handle (0 for a
    take that holds just the dubbed span, more if it carries handles).
    """
    if not same_rate(take_fps, picture.fps):
        raise MediaError(
            f"the take is {take_fps:.3f} fps but its clip is {picture.fps:.3f} fps",
            hint="this is a bug in the daemon: report it with the job id",
        )
    if take_first_frame < 0 or take_first_frame + picture.num_frames > take_num_frames:
        raise MediaError(
            f"the take has {take_num_frames} frames; frames {take_first_frame}-"
            f"{take_first_frame + picture.num_frames - 1} were expected",
            hint="the take is shorter than its clip: retry the job",
        )
    return TakePlacement(
        frame_start=picture.record_start - take_first_frame,
        frame_final_start=picture.record_start,
        frame_final_end=picture.record_end,
    )
