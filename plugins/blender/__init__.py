"""xdub for Blender's Video Sequence Editor: Dub Clip, job progress, takes on the timeline.

Blender imports this package as ``bl_ext.<repo>.xdub``. ``bpy`` is imported only on
``register``, so the pure ``core`` package also loads in a plain Python (the project's tests).
"""

from __future__ import annotations


def register() -> None:
    from . import addon

    addon.register()


def unregister() -> None:
    from . import addon

    addon.unregister()
