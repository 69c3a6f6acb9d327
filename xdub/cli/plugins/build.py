"""Build the installable Blender extension zip (``xdub plugins build blender``).

The zip holds ``plugins/blender`` (the extension's source), the protocol package as the
sub-package ``xdub_protocol`` (``xdub.cli.plugins.vendor``, the same copy the Resolve plugin gets),
and the pyzmq wheels Blender installs from the zip: cp311 (Blender 4.2-5.0) and cp312-abi3
(Blender 5.1+ on Python 3.13) for Linux, Windows and macOS. Wheels come from a cache folder;
missing ones are fetched once with ``pip download``, so later builds run offline.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from xdub.cli.plugins.vendor import vendor_protocol
from xdub.errors import XdubError

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[3]
EXTENSION_SOURCE = REPO_ROOT / "plugins" / "blender"
PYZMQ_VERSION = "27.3.0"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")
_MANIFEST_ANCHOR = "# `xdub plugins build blender` adds the bundled pyzmq wheels here."


@dataclass(frozen=True)
class WheelTarget:
    """One wheel to bundle: pip's ``--python-version``/``--abi``/``--platform`` and the tags
    its file name carries."""

    python_version: str
    abi: str
    platform: str
    file_tags: str
    platform_fragment: str


WHEEL_TARGETS = tuple(
    WheelTarget(python, abi, platform, tags, fragment)
    for python, abi, tags in (("3.11", "cp311", "cp311-cp311"), ("3.12", "abi3", "cp312-abi3"))
    for platform, fragment in (
        ("manylinux_2_28_x86_64", "manylinux_2_28_x86_64"),
        ("win_amd64", "win_amd64"),
        ("macosx_10_15_universal2", "universal2"),
    )
)
"""universal2 serves both macOS platforms; abi3 for cp312 covers Python 3.12 and 3.13."""


def _build_error(message: str, hint: str | None = None) -> XdubError:
    return XdubError(message, code="build_failed", hint=hint)


def default_wheel_cache() -> Path:
    """``<user cache dir>/xdub/wheels``."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("xdub", appauthor=False)) / "wheels"


def _cached_wheel(cache: Path, target: WheelTarget) -> Path | None:
    pattern = f"pyzmq-{PYZMQ_VERSION}-{target.file_tags}-*{target.platform_fragment}*.whl"
    found = sorted(cache.glob(pattern))
    return found[-1] if found else None


def fetch_wheels(cache: Path, *, offline: bool = False) -> list[Path]:
    """The bundled wheels, from ``cache``; missing ones are downloaded unless ``offline``."""
    cache.mkdir(parents=True, exist_ok=True)
    wheels = []
    for target in WHEEL_TARGETS:
        wheel = _cached_wheel(cache, target)
        if wheel is None and not offline:
            _pip_download(cache, target)
            wheel = _cached_wheel(cache, target)
        if wheel is None:
            raise _build_error(
                f"no pyzmq {PYZMQ_VERSION} {target.file_tags} {target.platform} wheel in {cache}",
                hint="run the build once with network access (without --offline) to fill the cache",
            )
        wheels.append(wheel)
    return wheels


def _pip_download(cache: Path, target: WheelTarget) -> None:
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--no-deps", "--only-binary=:all:", "--implementation", "cp",
        "--python-version", target.python_version, "--abi", target.abi,
        "--platform", target.platform, "--dest", str(cache), f"pyzmq=={PYZMQ_VERSION}",
    ]  # fmt: skip
    log.info("downloading pyzmq %s for %s %s", PYZMQ_VERSION, target.file_tags, target.platform)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise _build_error(
            f"pip could not download pyzmq {PYZMQ_VERSION} for {target.platform}: "
            f"{result.stderr.strip()[-500:]}",
            hint="check the network, or pass --offline with a filled --wheel-cache",
        )


def stage_extension(dest: Path) -> Path:
    """Copy the extension source and the vendored protocol package into ``dest`` (no wheels)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(EXTENSION_SOURCE, dest, ignore=_IGNORED)
    vendor_protocol(dest)
    return dest


def _manifest_field(text: str, name: str) -> str:
    """A text field of the manifest, read as TOML."""
    try:
        value = tomllib.loads(text).get(name)
    except tomllib.TOMLDecodeError as error:
        raise _build_error(f"blender_manifest.toml is not valid TOML: {error}") from None
    if not isinstance(value, str) or not value:
        raise _build_error(f'blender_manifest.toml has no {name} = "..." field')
    return value


def _write_manifest(staged: Path, wheels: list[Path]) -> str:
    """Add the wheels to the staged manifest; returns the zip's name."""
    path = staged / "blender_manifest.toml"
    text = path.read_text(encoding="utf-8")
    if _MANIFEST_ANCHOR not in text:
        raise _build_error(f"{path} lacks the line {_MANIFEST_ANCHOR!r}")
    listed = ", ".join(f'"./wheels/{wheel.name}"' for wheel in wheels)
    path.write_text(text.replace(_MANIFEST_ANCHOR, f"wheels = [{listed}]"), encoding="utf-8")
    return f"{_manifest_field(text, 'id')}-{_manifest_field(text, 'version')}.zip"


def build_blender(
    output_dir: Path, *, wheel_cache: Path | None = None, offline: bool = False
) -> Path:
    """Write ``xdub-<version>.zip`` into ``output_dir``; returns its path."""
    wheels = fetch_wheels(wheel_cache or default_wheel_cache(), offline=offline)
    output_dir.mkdir(parents=True, exist_ok=True)
    staged = stage_extension(output_dir / ".xdub-blender-staging")
    try:
        (staged / "wheels").mkdir()
        for wheel in wheels:
            shutil.copy2(wheel, staged / "wheels" / wheel.name)
        archive = output_dir / _write_manifest(staged, wheels)
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
            for path in sorted(staged.rglob("*")):
                if path.is_file():
                    bundle.write(path, path.relative_to(staged).as_posix())
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    log.info("wrote %s", archive)
    return archive
