"""The host adapter: read the picture and dialogue from the VSE, place the take back.

Everything Blender-specific that the Dub Clip operator and the job poller need goes through
here; the rules themselves are in ``core`` (pure, unit-tested without Blender).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import bpy

from . import compat
from .core.placement import first_free_channel
from .core.timing import (
    MovieSpan,
    SoundStripTiming,
    StripTiming,
    TakePlacement,
    movie_span,
    scene_fps,
    take_placement,
)
from .xdub_protocol.exceptions import MediaError
from .xdub_protocol.takes import Take

TIME_EFFECTS = {"SPEED"}
"""Effect strips that change timing: a take cannot reproduce them."""


def timing_of(strip: Any) -> StripTiming:
    """The timing fields of a strip (names exist from 4.2 to 5.x)."""
    return StripTiming(
        name=strip.name,
        frame_start=float(strip.frame_start),
        frame_final_start=int(strip.frame_final_start),
        frame_final_end=int(strip.frame_final_end),
        animation_offset_start=int(getattr(strip, "animation_offset_start", 0)),
        animation_offset_end=int(getattr(strip, "animation_offset_end", 0)),
        frame_duration=int(strip.frame_duration),
    )


def fps_of(scene: Any) -> float:
    return scene_fps(scene.render.fps, scene.render.fps_base)


def check_picture(scene: Any, strip: Any) -> list[str]:
    """Refuse what cannot be dubbed; returns warnings for what the take will not carry."""
    if strip is None:
        raise MediaError("no active strip", hint="click the movie strip to dub, then Dub Clip")
    kind = strip.type
    if kind == "META":
        raise MediaError(
            f"{strip.name!r} is a meta strip",
            hint="open it (Tab) and make the movie strip inside it active",
        )
    if kind == "IMAGE":
        raise MediaError(
            f"{strip.name!r} is an image sequence; xdub dubs movie files",
            hint="render the sequence to a movie file (e.g. ProRes) and dub that",
        )
    if kind != "MOVIE":
        raise MediaError(
            f"{strip.name!r} is a {kind.lower()} strip, not a movie strip",
            hint="click the movie strip to dub (not an effect on it), then Dub Clip",
        )
    _check_not_retimed(strip)
    if getattr(strip, "use_reverse_frames", False):
        raise MediaError(
            f"{strip.name!r} plays reversed",
            hint="turn off Reverse Frames (4.x: sidebar > Strip > Video; 5.x has no button: "
            "strip.use_reverse_frames = False in the Python console), dub, then reverse the take",
        )
    warnings = []
    for effect in effects_using(scene.sequence_editor, strip):
        if effect.type in TIME_EFFECTS:
            raise MediaError(
                f"{strip.name!r} feeds the speed effect {effect.name!r}",
                hint="remove the speed effect, dub, then apply it to the take",
            )
        warnings.append(f"effect {effect.name!r} uses {strip.name!r}; reconnect it to the take")
    if len(strip.modifiers):
        warnings.append(f"{strip.name!r} has modifiers; the take does not copy them")
    return warnings


def _check_not_retimed(strip: Any) -> None:
    """Refuse a strip with retiming keys: its media frames no longer map 1:1 to scene frames
    (the keys' speeds are not readable from Python, so even 100 % keys are refused). A strip
    without ``retiming_keys`` passes: see ``unreadable_retiming``."""
    if len(getattr(strip, "retiming_keys", ())) > 0:
        raise MediaError(
            f"{strip.name!r} has a speed change (retiming keys)",
            hint="Strip > Retiming > Reset Retiming, dub, then retime the take",
        )


def effects_using(editor: Any, strip: Any) -> list[Any]:
    """The effect strips fed by ``strip``, directly or through other effects, nearest first."""
    found: list[Any] = []
    frontier = [strip]
    others = compat.all_strips(editor)
    while frontier:
        fed = [
            other
            for other in others
            if other not in found and any(item in frontier for item in compat.effect_inputs(other))
        ]
        found.extend(fed)
        frontier = fed
    return found


def picture_span(scene: Any, strip: Any) -> MovieSpan:
    return movie_span(timing_of(strip), float(strip.fps), fps_of(scene))


def sound_timings(strips: list[Any]) -> list[SoundStripTiming]:
    """The unmuted sound strips among ``strips``, with absolute file paths; a retimed one is
    refused (its sound no longer plays 1:1)."""
    sounds = [strip for strip in strips if strip.type == "SOUND" and not strip.mute]
    for strip in sounds:
        _check_not_retimed(strip)
    return [
        SoundStripTiming(
            timing_of(strip),
            bpy.path.abspath(strip.sound.filepath),
            float(getattr(strip, "sound_offset", 0.0)),
        )
        for strip in sounds
        if strip.sound is not None
    ]


def unreadable_retiming(scene: Any, names: list[str]) -> list[str]:
    """Warnings for the named strips whose retiming Python cannot read: 4.2's sound strips can
    be retimed but have no ``retiming_keys`` (4.5 has them)."""
    by_name = {strip.name: strip for strip in compat.all_strips(scene.sequence_editor)}
    return [
        f"this Blender does not show add-ons whether sound strip {name!r} is retimed; if it "
        "is, the dub follows its sound unretimed (Reset Retiming, or mix it down first)"
        for name in names
        if name in by_name and not hasattr(by_name[name], "retiming_keys")
    ]


@dataclass(frozen=True)
class PlacedTake:
    strip_name: str
    channel: int
    sound_name: str


def _occupied(collection: Any, skip: Any = None) -> list[tuple[int, int, int]]:
    return [
        (item.channel, item.frame_final_start, item.frame_final_end)
        for item in collection
        if item != skip
    ]


def place_take(
    scene: Any,
    picture: MovieSpan,
    original_name: str,
    original_channel: int,
    take: Take,
    *,
    name: str,
    properties: dict[str, Any],
    mute_original: bool,
    add_sound: bool,
) -> PlacedTake:
    """Add the take as a movie strip over exactly the picture's frames on the first free
    channel above the original (and its sound above that, if ``add_sound``)."""
    editor = scene.sequence_editor_create()
    original = compat.strip_collection(editor).get(original_name)
    if original is None:
        original = next((s for s in compat.all_strips(editor) if s.name == original_name), None)
    collection = (
        compat.parent_collection(editor, original) if original else compat.strip_collection(editor)
    )
    channel = first_free_channel(
        _occupied(collection), original_channel, picture.record_start, picture.record_end
    )
    strip = collection.new_movie(name, take.path, channel, picture.record_start)
    strip.filepath = stored_path(take.path)
    try:
        placement = take_placement(picture, take.first_frame, int(strip.frame_duration), strip.fps)
        _set_range(strip, placement)
    except MediaError:
        collection.remove(strip)
        raise
    for key, value in properties.items():
        strip[key] = value if isinstance(value, (str, int, float)) else json.dumps(value)
    sound_name = ""
    if add_sound:
        above = first_free_channel(
            _occupied(collection), channel, picture.record_start, picture.record_end
        )
        sound = collection.new_sound(f"{name} audio", take.path, above, placement.frame_start)
        sound.sound.filepath = stored_path(take.path)
        _set_range(sound, placement)
        sound["xdub_job"] = properties.get("xdub_job", "")
        sound_name = sound.name
    if original is not None and mute_original:
        original.mute = True
    return PlacedTake(strip.name, channel, sound_name)


def stored_path(path: str) -> str:
    """``path`` as the .blend stores it: ``//``-relative when the .blend is saved (a take in
    ``//xdub_takes/`` moves with the project folder), else as is."""
    return str(bpy.path.relpath(path)) if bpy.data.filepath else path


def _set_range(strip: Any, placement: TakePlacement) -> None:
    strip.frame_start = placement.frame_start
    strip.frame_final_start = placement.frame_final_start
    strip.frame_final_end = placement.frame_final_end
