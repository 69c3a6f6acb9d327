"""Running the installed menu scripts as Resolve does, and the editor at the fake's windows."""

from __future__ import annotations

import runpy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fake_resolve import FakeBmd, FakeWindow
from resolve_scenario import WHOLE_FILE_FRAMES, Media, Project, make_project


def run_menu_script(
    root: Path, name: str, project: Project, bmd: FakeBmd | None, capsys: pytest.CaptureFixture[str]
) -> list[str]:
    """Run ``Scripts/Edit/<name>`` as Resolve runs a Python menu script (its globals seeded
    with ``resolve``, ``fusion``, ``bmd``); returns what it printed to the Console."""
    namespace: dict[str, Any] = {"resolve": project.resolve, "fusion": project.resolve.Fusion()}
    if bmd is not None:
        namespace["bmd"] = bmd
    # Resolve starts a fresh Python per menu script: import the installed plugin, not ours
    ours = {
        key: sys.modules.pop(key) for key in list(sys.modules) if key.startswith("xdub_resolve")
    }
    capsys.readouterr()
    try:
        runpy.run_path(str(root / "Scripts" / "Edit" / name), init_globals=namespace)
        assert sys.modules["xdub_resolve"].__file__.startswith(str(root))
    finally:
        for key in [key for key in sys.modules if key.startswith("xdub_resolve")]:
            del sys.modules[key]
        sys.modules.update(ours)
    return capsys.readouterr().out.splitlines()


def editor(preset: str = "final", *, cancel: bool = False) -> Callable[[FakeWindow, int], None]:
    """The person at Studio: picks ``preset`` in the preset window and clicks Dub; then, with
    ``cancel``, clicks Cancel in the progress window."""

    def act(window: FakeWindow, turn: int) -> None:
        if window.props["ID"] == "xdub_preset":
            combo = window.GetItems()["preset"]
            combo.CurrentIndex = next(
                n for n, e in enumerate(combo.entries) if e.lower().startswith(preset)
            )
            window.click("ok")
        elif cancel:
            window.click("cancel")

    return act


def whole_item_project(media: Media, product: str, version: tuple[int, int, int]) -> Project:
    """The item spans its whole file (an item trimmed inside it has its own test)."""
    return make_project(media, product, version, left_offset=0, duration=WHOLE_FILE_FRAMES)
