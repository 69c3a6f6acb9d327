"""Finding the editing hosts on a machine: DaVinci Resolve and every Blender >= 4.2.

Every question goes through a ``HostProbe`` (OS, home, environment, a root for the system
folders, ``run``), so tests lay out a Linux, macOS or Windows machine in a temporary folder.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from xdub.cli.plugins.resolve_install import fusion_roots
from xdub.setup.accelerator import run_quietly

MIN_BLENDER = (4, 2)
SYS_PLATFORM = {"linux": "linux", "darwin": "darwin", "windows": "win32"}
"""``MachineProbe.system`` -> ``sys.platform`` (what ``resolve_install`` takes)."""


@dataclass(frozen=True)
class HostProbe:
    """``system`` ('linux'|'darwin'|'windows'); ``root`` is '/' (or C:\\) on a real machine;
    ``run(argv)`` returns stdout or None; ``which(name)`` a path on PATH or None."""

    system: str
    home: Path
    env: Mapping[str, str]
    root: Path
    run: Callable[[list[str]], str | None]
    which: Callable[[str], str | None]

    @classmethod
    def of_this_machine(cls, system: str) -> HostProbe:
        root = (
            Path(os.environ.get("SystemDrive", "C:") + "\\") if system == "windows" else Path("/")
        )
        return cls(system, Path.home(), os.environ, root, run_quietly, shutil.which)

    @property
    def sys_platform(self) -> str:
        return SYS_PLATFORM[self.system]

    def program_dirs(self) -> list[Path]:
        """Windows' program folders (``%ProgramFiles%``, its x86 twin, per-user Programs)."""
        names = ("ProgramFiles", "ProgramFiles(x86)")
        found = [Path(self.env[name]) for name in names if self.env.get(name)]
        found = found or [self.root / "Program Files"]
        if self.env.get("LOCALAPPDATA"):
            found.append(Path(self.env["LOCALAPPDATA"]) / "Programs")
        return found


@dataclass(frozen=True)
class Blender:
    executable: Path
    version: tuple[int, ...]

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))


def resolve_installed(probe: HostProbe) -> bool:
    """Whether Resolve (or its per-user folder) is on this machine."""
    if probe.system == "windows":
        apps = [
            d / "Blackmagic Design" / "DaVinci Resolve" / "Resolve.exe"
            for d in probe.program_dirs()
        ]
    elif probe.system == "darwin":
        apps = [probe.root / "Applications" / "DaVinci Resolve" / "DaVinci Resolve.app"]
    else:
        apps = [probe.root / "opt" / "resolve" / "bin" / "resolve"]
    roots = fusion_roots(probe.sys_platform, probe.home, probe.env)
    return any(path.exists() for path in apps) or any(root.parent.exists() for root in roots)


def resolve_roots(probe: HostProbe) -> list[Path]:
    """The per-user Fusion folders to install the Resolve scripts into (none without Resolve)."""
    if not resolve_installed(probe):
        return []
    return fusion_roots(probe.sys_platform, probe.home, probe.env)


def _blender_candidates(probe: HostProbe) -> list[Path]:
    home, root = probe.home, probe.root
    if probe.system == "windows":
        found = []
        for folder in probe.program_dirs():
            found += sorted((folder / "Blender Foundation").glob("Blender*/blender.exe"))
            found.append(folder / "Steam" / "steamapps" / "common" / "Blender" / "blender.exe")
        return found
    if probe.system == "darwin":
        found = []
        for apps in (root / "Applications", home / "Applications"):
            found += sorted(apps.glob("Blender*.app/Contents/MacOS/Blender"))
        steam = home / "Library" / "Application Support" / "Steam" / "steamapps" / "common"
        return [*found, steam / "Blender" / "Blender.app" / "Contents" / "MacOS" / "Blender"]
    found = [root / "usr" / "bin" / "blender", root / "snap" / "bin" / "blender"]
    for folder in (root / "opt", home, home / "Applications", home / ".local" / "opt"):
        found += sorted(folder.glob("blender*/blender"))
    for flatpak in (root / "var" / "lib" / "flatpak", home / ".local" / "share" / "flatpak"):
        found.append(flatpak / "exports" / "bin" / "org.blender.Blender")
    found.append(
        home / ".local" / "share" / "Steam" / "steamapps" / "common" / "Blender" / "blender"
    )
    return found


def blender_version(text: str | None) -> tuple[int, ...] | None:
    """(major, minor, patch) from ``blender --version``'s first line ("Blender 4.2.3 LTS")."""
    match = re.search(r"^Blender (\d+)\.(\d+)(?:\.(\d+))?", text or "", re.MULTILINE)
    return tuple(int(part) for part in match.groups() if part is not None) if match else None


def find_blenders(probe: HostProbe) -> tuple[list[Blender], list[str]]:
    """Every Blender >= 4.2 found (each executable once), and notes on the ones skipped."""
    candidates = _blender_candidates(probe)
    on_path = probe.which("blender")
    if on_path:
        candidates.insert(0, Path(on_path))
    found, notes, seen = [], [], set()
    for path in candidates:
        if not path.is_file() or path.resolve() in seen:
            continue
        seen.add(path.resolve())
        version = blender_version(probe.run([str(path), "--version"]))
        if version is None:
            notes.append(f"{path}: did not report a version; skipped")
        elif version[:2] < MIN_BLENDER:
            text = ".".join(map(str, version))
            notes.append(f"{path}: Blender {text} is older than 4.2 (no extensions); skipped")
        else:
            found.append(Blender(path, version))
    return found, notes


def this_machine_probe() -> HostProbe:
    system = {"win32": "windows", "darwin": "darwin"}.get(sys.platform, "linux")
    return HostProbe.of_this_machine(system)
