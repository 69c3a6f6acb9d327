"""The lock files: one ``pylock.<os>-<arch>-<build>.toml`` (PEP 751) per (OS, torch build).

Stdlib-only. ``installers/locks/refresh.py`` compiles them with ``uv pip compile``; an install
only ever reads them, so it never resolves afresh: every wheel has its URL and sha256.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from xdub.errors import XdubError

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCK_DIR = REPO_ROOT / "installers" / "locks"


def lock_name(system: str, machine: str, build: str) -> str:
    return f"pylock.{system}-{machine}-{build}.toml"


@dataclass(frozen=True)
class LockedWheel:
    url: str
    sha256: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1].split("#", 1)[0]


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str
    wheels: tuple[LockedWheel, ...]
    marker: str = ""


def available_builds(system: str, machine: str, lock_dir: Path = LOCK_DIR) -> list[str]:
    """The torch builds with a lock for this OS and architecture."""
    prefix = f"pylock.{system}-{machine}-"
    return sorted(p.name[len(prefix) : -len(".toml")] for p in lock_dir.glob(f"{prefix}*.toml"))


def find_lock(system: str, machine: str, build: str, lock_dir: Path = LOCK_DIR) -> Path:
    """The lock for (OS, arch, build), or an error that names the ones there are."""
    path = lock_dir / lock_name(system, machine, build)
    if path.is_file():
        return path
    others = available_builds(system, machine, lock_dir)
    raise XdubError(
        f"no lock file for torch build {build!r} on {system}-{machine} (looked for {path})",
        code="setup_failed",
        hint=(
            f"choose one that exists with --torch {' | '.join(others)}"
            if others
            else "this OS/architecture has no locks yet"
        )
        + "; or compile it on a connected machine with installers/locks/refresh.py",
    )


def read_lock(path: Path) -> list[LockedPackage]:
    """Every package of a PEP 751 lock with its wheels (sdists are ignored: nothing builds)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise XdubError(f"cannot read the lock {path}: {error}", code="setup_failed") from error
    packages = []
    for entry in data.get("packages", []):
        wheels = tuple(
            LockedWheel(wheel["url"], wheel["hashes"]["sha256"])
            for wheel in entry.get("wheels", [])
        )
        if not wheels:
            raise XdubError(
                f"{path.name}: {entry['name']} {entry['version']} has no wheel in the lock",
                code="setup_failed",
                hint="xdub installs only wheels; refresh the lock (installers/locks/refresh.py)",
            )
        packages.append(
            LockedPackage(entry["name"], entry["version"], wheels, entry.get("marker", ""))
        )
    return packages


def wheelhouse_requirements(packages: list[LockedPackage]) -> str:
    """``name==version --hash=...`` lines for an install from a wheelhouse folder (no index):
    the same files as the lock, checked by hash."""
    lines = []
    for package in packages:
        hashes = " ".join(f"--hash=sha256:{wheel.sha256}" for wheel in package.wheels)
        marker = f" ; {package.marker}" if package.marker else ""
        lines.append(f"{package.name}=={package.version}{marker} {hashes}")
    return "\n".join(lines) + "\n"
