"""Where the installer puts things: the app environments, the launchers, the manifest.

Stdlib-only. ``data_dir`` agrees with ``xdub.paths.data_dir`` (platformdirs), which the
bootstrap cannot import yet; a test keeps the two in step on all three OSes.

    <data dir>/app/envs/<id>/venv     one environment per install (uv venv)
    <data dir>/app/envs/<id>/src      the xdub source it was installed from (editable)
    <data dir>/app/current            the id of the environment the launchers run
    <data dir>/app/uv-cache           uv's cache, on the environments' file system
    <data dir>/install-manifest.json  everything setup added, for ``--uninstall``
    <launcher dir>/xdub, xdub-tray    ~/.local/bin (Linux, macOS), <data dir>/bin (Windows)

Models, the job store and settings live beside ``app/`` (or in the config folder) and no
upgrade touches them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "xdub"
LAUNCHERS = {"xdub": "xdub", "xdub-tray": "xdub-tray"}
"""Launcher name -> the console script it runs from the current environment."""


def data_dir(system: str, home: Path, env: Mapping[str, str]) -> Path:
    """platformdirs' ``user_data_dir("xdub")`` for ``system``; ``$XDUB_DATA_DIR`` overrides."""
    if env.get("XDUB_DATA_DIR"):
        return Path(env["XDUB_DATA_DIR"])
    if system == "windows":
        local = env.get("LOCALAPPDATA") or str(home / "AppData" / "Local")
        return Path(local) / APP_NAME / APP_NAME
    if system == "darwin":
        return home / "Library" / "Application Support" / APP_NAME
    xdg = env.get("XDG_DATA_HOME", "").strip()
    return (Path(xdg) if xdg else home / ".local" / "share") / APP_NAME


@dataclass(frozen=True)
class Layout:
    """The installer's paths on one machine (``system`` as in ``MachineProbe``)."""

    system: str
    data: Path
    launcher_dir: Path

    @classmethod
    def for_user(cls, system: str, home: Path, env: Mapping[str, str]) -> Layout:
        data = data_dir(system, home, env)
        if system == "windows":
            launcher_dir = data / "bin"
        else:
            launcher_dir = Path(env.get("XDG_BIN_HOME") or home / ".local" / "bin")
        return cls(system, data, launcher_dir)

    @classmethod
    def of_this_user(cls, system: str) -> Layout:
        return cls.for_user(system, Path.home(), os.environ)

    @property
    def app(self) -> Path:
        return self.data / "app"

    @property
    def envs(self) -> Path:
        return self.app / "envs"

    @property
    def current_file(self) -> Path:
        return self.app / "current"

    @property
    def uv_cache(self) -> Path:
        return self.app / "uv-cache"

    @property
    def manifest(self) -> Path:
        return self.data / "install-manifest.json"

    def venv(self, env_id: str) -> Path:
        return self.envs / env_id / "venv"

    def venv_script(self, env_id: str, name: str) -> Path:
        """A console script or the python of an environment."""
        if self.system == "windows":
            suffix = ".exe"
            return self.venv(env_id) / "Scripts" / f"{name}{suffix}"
        return self.venv(env_id) / "bin" / name

    def current_env(self) -> str | None:
        """The id the launchers run, or None before the first install."""
        try:
            env_id = self.current_file.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return env_id if env_id and self.venv(env_id).is_dir() else None

    def launcher(self, name: str) -> Path:
        return self.launcher_dir / (f"{name}.cmd" if self.system == "windows" else name)

    def launcher_text(self, script: str) -> str:
        """A launcher that runs ``script`` of whichever environment ``current`` names."""
        if self.system == "windows":
            return (
                "@echo off\r\n"
                "rem xdub launcher, written by the xdub installer\r\n"
                f'set /p XDUB_ENV=<"{self.current_file}"\r\n'
                f'"{self.envs}\\%XDUB_ENV%\\venv\\Scripts\\{script}.exe" %*\r\n'
            )
        return (
            "#!/bin/sh\n"
            "# xdub launcher, written by the xdub installer\n"
            f"envs='{self.envs}'\n"
            f"""exec "$envs/$(cat '{self.current_file}')/venv/bin/{script}" "$@"\n"""
        )
