"""The user's job options for Resolve dubs: ``xdub_resolve_settings.json`` in the plugin folder.

Stdlib-only. The file is optional and holds ``{"options": {...}}`` with the protocol's job
options (docs/protocol.md, "Job options"), e.g. ``{"options": {"codec": "dnxhr_hq"}}``; the
daemon validates them and fills in the rest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SETTINGS_FILE = Path(__file__).resolve().parents[1] / "xdub_resolve_settings.json"


class SettingsError(ValueError):
    """The settings file is not what it should be."""


def job_options(path: Path = SETTINGS_FILE) -> dict[str, Any]:
    """The ``options`` to submit (``{}``: the daemon's defaults)."""
    if not path.is_file():
        return {}
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise SettingsError(f"{path} is not valid JSON ({error}): fix or delete it") from None
    options = settings.get("options", {}) if isinstance(settings, dict) else None
    if not isinstance(options, dict):
        raise SettingsError(f'{path} must hold {{"options": {{...}}}}')
    return options
