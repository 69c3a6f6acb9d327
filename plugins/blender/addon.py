"""Registering and unregistering everything the extension adds to Blender."""

from __future__ import annotations

import bpy

from . import jobs, operators, runtime, ui

_CLASSES = (jobs.XDUB_PG_job, *operators.CLASSES, *ui.CLASSES)


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.xdub_jobs = bpy.props.CollectionProperty(type=jobs.XDUB_PG_job)
    for menu in ui.MENUS:
        getattr(bpy.types, menu).append(ui.menu_entry)
    runtime.start()


def unregister() -> None:
    runtime.stop()
    for menu in ui.MENUS:
        getattr(bpy.types, menu).remove(ui.menu_entry)
    del bpy.types.Scene.xdub_jobs
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
