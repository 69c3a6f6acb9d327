"""Which preset a dub runs at: Final (the take) or Draft (a quick take to audition).

Stdlib-only. Where the edition has script GUIs (Studio, free before 19.1) a window asks before
the job is submitted, preselecting the settings file's ``preset``; elsewhere (free 19.1+, the
Lua path) the settings file decides, and the Console says how to change it.
"""

from __future__ import annotations

from typing import Any

from xdub_resolve.host import HostError
from xdub_resolve.modal import ask_window
from xdub_resolve.progress import WindowView

PRESETS = {
    "final": "Final: the take as the options say",
    "draft": "Draft: a quick take to audition (about 5x faster)",
}
"""The ``DubOptions.preset`` values, in the window's order, with their window entries."""
DEFAULT_PRESET = "final"
CONSOLE_NOTES = {
    "final": 'the finished take; "preset": "draft" in the settings file for a quick one',
    "draft": 'a quick take for auditioning; "preset": "final" in the settings file for the take',
}
WINDOW_NOTES = {
    "final": "the finished take",
    "draft": "a quick take for auditioning; dub again with Final for the take",
}


def choose_preset(view: Any, settings_preset: str | None) -> str:
    """The preset to submit: asked in a window on a ``WindowView``, else the settings file's
    (``settings_preset``, ``None`` when it sets none). Raises ``HostError`` when cancelled."""
    default = settings_preset or DEFAULT_PRESET
    if not isinstance(view, WindowView):
        return default
    names = list(PRESETS)

    def fill(items: dict[str, Any]) -> None:
        for name in names:
            items["preset"].AddItem(PRESETS[name])
        items["preset"].CurrentIndex = names.index(default) if default in names else 0

    rows = [view.ui.Label({"Text": "Preset:"}), view.ui.ComboBox({"ID": "preset"})]
    items = ask_window(view.ui, view.dispatcher, "xdub_preset", "XDub - preset", rows, fill)
    if items is None:
        raise HostError("cancelled: nothing was submitted")
    chosen = int(items["preset"].CurrentIndex)
    return names[chosen] if 0 <= chosen < len(names) else default


def preset_note(view: Any, preset: str) -> str:
    """What the preset means, and where to change it, for the Console line after submitting."""
    notes = WINDOW_NOTES if isinstance(view, WindowView) else CONSOLE_NOTES
    return notes.get(preset, "")
