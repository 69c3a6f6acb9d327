"""The plugin's questions: a small UIManager window with a few rows above Dub / Cancel.

Stdlib-only, and only where the edition has script GUIs (``Edition.has_ui_manager``), with the
API of ``fusion.UIManager`` and ``bmd.UIDispatcher`` (``AddWindow``, ``VGroup``/``HGroup``,
``Label``/``ComboBox``/``LineEdit``/``Button``, ``On.<id>.Clicked``/``Close``, ``RunLoop``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

WINDOW_WIDTH_PX = 420


def ask_window(
    ui: Any,
    dispatcher: Any,
    window_id: str,
    title: str,
    rows: Sequence[Any],
    fill: Callable[[dict[str, Any]], None] = lambda items: None,
) -> dict[str, Any] | None:
    """Show ``rows`` (widgets of ``ui``) above Dub / Cancel and wait for one of them; ``fill``
    sets the widgets up first (combo entries, preselection). Returns the window's items, to
    read the answer from, when Dub was clicked, else ``None``."""
    height_px = 60 + 30 * len(rows)
    window = dispatcher.AddWindow(
        {"ID": window_id, "WindowTitle": title, "Geometry": [100, 100, WINDOW_WIDTH_PX, height_px]},
        ui.VGroup(
            [
                *rows,
                ui.HGroup(
                    [
                        ui.Button({"ID": "ok", "Text": "Dub"}),
                        ui.Button({"ID": "no", "Text": "Cancel"}),
                    ]
                ),
            ]
        ),
    )
    items = window.GetItems()
    fill(items)
    accepted = [False]

    def on_ok(event: Any) -> None:
        accepted[0] = True
        dispatcher.ExitLoop()

    def on_cancel(event: Any) -> None:
        dispatcher.ExitLoop()

    window.On.ok.Clicked = on_ok
    window.On.no.Clicked = on_cancel
    getattr(window.On, window_id).Close = on_cancel
    window.Show()
    try:
        dispatcher.RunLoop()
    finally:
        window.Hide()
    return items if accepted[0] else None
