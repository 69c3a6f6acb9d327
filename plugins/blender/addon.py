"""Registering and unregistering everything the extension adds to Blender."""

from __future__ import annotations

import bpy

from . import jobs, operators, runtime, ui

_CLASSES = (jobs.XDUB_PG_job, *operators.CLASSES, *ui.CLASSES)


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    # A property registered at run time: the stubs cannot know it.
    bpy.types.Scene.xdub_jobs = bpy.props.CollectionProperty(type=jobs.XDUB_PG_job)  # type: ignore[attr-defined]
    for menu in ui.MENUS:
        getattr(bpy.types, menu).append(ui.menu_entry)
    runtime.start()


def unregister() -> None:
    runtime.stop()
    for menu in ui.MENUS:
        getattr(bpy.types, menu).remove(ui.menu_entry)
    del bpy.types.Scene.xdub_jobs  # type: ignore[attr-defined]
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
