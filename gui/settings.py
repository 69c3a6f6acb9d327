"""The tray's settings: a frozen dataclass stored as JSON in the platformdirs config folder.

VRAM policy, the default quality preset and codec, the output folder for takes, autostart of
the daemon at login, and LAN access (off by default). ``XDUB_CONFIG_DIR`` overrides the folder.
Autostart writes (or removes) an XDG autostart entry on Linux; other systems get it from the
installers, so there it is only recorded.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import platformdirs

from xdub.errors import XdubError
from xdub.paths import APP_NAME
from xdub.protocol.records import Codec, DubOptions, VramPolicy

log = logging.getLogger(__name__)

SETTINGS_FILE = "tray.json"
AUTOSTART_FILE = "xdub-daemon.desktop"


class QualityPreset(str, Enum):
    """Denoising steps of a take: a quick preview, the reference's 30 steps, or more."""

    DRAFT = "draft"
    STANDARD = "standard"
    HIGH = "high"

    @property
    def num_steps(self) -> int:
        return {"draft": 10, "standard": 30, "high": 50}[self.value]


LAN_WARNING = (
    "LAN access lets other machines on your network reach the daemon. Every message stays "
    "signed, but anyone holding the connection file's key can submit jobs as you. Turn it on "
    "only on a network you trust; the daemon applies it at its next start."
)


@dataclass(frozen=True)
class TraySettings:
    """What the user chose in the settings tab. ``output_dir`` ``None``: the daemon's folder."""

    vram_policy: VramPolicy = VramPolicy.RESIDENT
    quality: QualityPreset = QualityPreset.STANDARD
    codec: Codec = Codec.PRORES_HQ
    output_dir: str | None = None
    autostart: bool = False
    allow_lan: bool = False

    def job_options(self) -> DubOptions:
        """Default options for a job submitted from the tray."""
        return DubOptions(
            codec=self.codec, num_steps=self.quality.num_steps, output_dir=self.output_dir
        )

    def daemon_values(self) -> dict[str, Any]:
        """The daemon settings these choices set (``settings`` request values): the VRAM
        policy applies from the next job, LAN access from the daemon's next start."""
        return {"vram_policy": self.vram_policy.value, "allow_lan": self.allow_lan}

    def to_json(self) -> dict[str, Any]:
        return {
            field.name: (value.value if isinstance(value, Enum) else value)
            for field in dataclasses.fields(self)
            for value in [getattr(self, field.name)]
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> TraySettings:
        """Settings from JSON; unknown keys are ignored, a bad value raises ``XdubError``."""
        try:
            return cls(
                vram_policy=VramPolicy(obj.get("vram_policy", VramPolicy.RESIDENT.value)),
                quality=QualityPreset(obj.get("quality", QualityPreset.STANDARD.value)),
                codec=Codec(obj.get("codec", Codec.PRORES_HQ.value)),
                output_dir=_optional_dir(obj.get("output_dir")),
                autostart=bool(obj.get("autostart", False)),
                allow_lan=bool(obj.get("allow_lan", False)),
            )
        except ValueError as error:
            raise XdubError(f"invalid tray setting: {error}", code="unknown_setting") from error


def _optional_dir(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not os.path.isabs(value):
        raise ValueError(f"output_dir {value!r} is not an absolute path")
    return value


def config_dir() -> Path:
    """``$XDUB_CONFIG_DIR``, else ``platformdirs.user_config_dir("xdub")``."""
    override = os.environ.get("XDUB_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME))


def load_settings(path: Path | None = None) -> TraySettings:
    """The saved settings, or the defaults when none were saved; a broken file is reported."""
    path = path or config_dir() / SETTINGS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return TraySettings()
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as error:
        raise XdubError(
            f"the tray settings {path} are not valid JSON: {error}",
            hint="fix or delete the file; the defaults are used without it",
        ) from error
    return TraySettings.from_json(obj)


def save_settings(settings: TraySettings, path: Path | None = None) -> Path:
    """Write the settings atomically; returns the file."""
    path = path or config_dir() / SETTINGS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(settings.to_json(), indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return path


def autostart_dir() -> Path:
    """The XDG autostart folder (``$XDG_CONFIG_HOME/autostart``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "autostart"


def apply_autostart(enabled: bool, python: str = sys.executable) -> Path | None:
    """Create or remove the login entry that starts the daemon; returns it (Linux only)."""
    if not sys.platform.startswith("linux"):
        log.info("autostart on %s is set up by the xdub installer", sys.platform)
        return None
    entry = autostart_dir() / AUTOSTART_FILE
    if not enabled:
        entry.unlink(missing_ok=True)
        return entry
    entry.parent.mkdir(parents=True, exist_ok=True)
    entry.write_text(
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=xdub daemon\n"
        "Comment=Visual dubbing daemon for video editors\n"
        f"Exec={python} -m xdub daemon start\n"
        "X-GNOME-Autostart-enabled=true\n",
        encoding="utf-8",
    )
    return entry
