"""Blender 4.2 ... 5.x differences in one place (docs/blender.md, "Versions").

4.2 has ``sequence_editor.sequences`` and ``context.active_sequence_strip``; 4.4 renamed them to
``strips``/``active_strip`` and kept the old names; 5.0 has only the new ones, plus
``context.sequencer_scene``, which may be None (a bare session, a window without one).
A Blender built without Audaspace (PyPI's bpy 4.2) has no sound strips at all.
"""

from __future__ import annotations

from typing import Any

import bpy


def has_sound_strips() -> bool:
    """Whether this Blender can make sound strips: ``new_sound`` raises "Blender compiled
    without Audaspace support" otherwise."""
    return bool(getattr(bpy.app.build_options, "audaspace", True))


def sequencer_scene(context: Any) -> Any:
    """The scene the sequencer edits: ``context.sequencer_scene`` (5.x) or ``context.scene``."""
    return getattr(context, "sequencer_scene", None) or context.scene


def strip_collection(owner: Any) -> Any:
    """The strips of a sequence editor or meta strip: ``.strips`` (4.4+) or ``.sequences``."""
    return owner.strips if hasattr(owner, "strips") else owner.sequences


def all_strips(editor: Any) -> list[Any]:
    """Every strip of the editor, inside meta strips too."""
    return list(editor.strips_all if hasattr(editor, "strips_all") else editor.sequences_all)


def active_strip(context: Any) -> Any:
    """The active strip, or None."""
    strip = getattr(context, "active_strip", None)
    if strip is None:  # 4.2 names it active_sequence_strip
        strip = getattr(context, "active_sequence_strip", None)
    if strip is None:
        scene = sequencer_scene(context)
        editor = scene.sequence_editor if scene else None
        strip = editor.active_strip if editor else None
    return strip


def selected_strips(context: Any) -> list[Any]:
    """The selected strips (read from the scene when the context has no list, e.g. headless)."""
    strips = getattr(context, "selected_strips", None)
    if strips is None:
        strips = getattr(context, "selected_sequences", None)
    if strips:
        return list(strips)
    scene = sequencer_scene(context)
    editor = scene.sequence_editor if scene else None
    return [strip for strip in all_strips(editor) if strip.select] if editor else []


def parent_collection(editor: Any, strip: Any) -> Any:
    """The collection holding ``strip``: the editor's top level or a meta strip's strips."""
    top = strip_collection(editor)
    if any(item == strip for item in top):
        return top
    for meta in all_strips(editor):
        if meta.type == "META":
            inner = strip_collection(meta)
            if any(item == strip for item in inner):
                return inner
    return top


def effect_inputs(strip: Any) -> list[Any]:
    """An effect strip's inputs (``input_1/2`` since 4.4, ``seq1/2`` before)."""
    names = ("input_1", "input_2") if hasattr(strip, "input_1") else ("seq1", "seq2")
    return [value for value in (getattr(strip, name, None) for name in names) if value]
