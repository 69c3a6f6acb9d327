"""``xdub setup`` with Blenders on PATH and in ~/: the extension zip is built and handed to
each Blender >= 4.2 with ``--command extension install-file``, and uninstall removes it.

No Blender binary exists on the test machine (PyPI's bpy is a module, without the command
line), so each "Blender" here is a stand-in script that answers ``--version`` and records its
arguments; the zip it receives is the real one ``xdub plugins build blender`` writes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from xdub.cli.plugins.build import default_wheel_cache, fetch_wheels

STAND_IN = """#!/bin/sh
echo "$*" >> "{log}"
case "$1" in --version) echo "Blender {version}"; exit 0;; esac
for last; do :; done
case "$*" in *install-file*) cp "$last" "{log}.zip";; esac
exit 0
"""


def _blender(folder: Path, version: str, log: Path) -> Path:
    folder.mkdir(parents=True)
    path = folder / "blender"
    path.write_text(STAND_IN.format(log=log, version=version))
    path.chmod(0o755)
    return path


def test_extension_goes_into_every_new_blender_and_comes_out_again(tmp_path: Path) -> None:
    try:
        cache = default_wheel_cache()
        wheels = fetch_wheels(cache)
    except Exception as error:  # noqa: BLE001 - network-less machine
        pytest.skip(f"no pyzmq wheels for the extension: {error}")
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    for wheel in wheels:
        shutil.copy2(wheel, wheelhouse)
    home = tmp_path / "home"
    new = _blender(home / "blender-4.5.2-linux-x64", "4.5.2 LTS", tmp_path / "new.log")
    old = _blender(home / "blender-3.6.0-linux-x64", "3.6.0", tmp_path / "old.log")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "XDUB_"))}
    env.update(HOME=str(home), XDG_RUNTIME_DIR=str(tmp_path))

    def setup(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "xdub", "setup", *args], env=env, capture_output=True,
            text=True, timeout=300, check=False,
        )  # fmt: skip

    result = setup("--no-start", "--models", "skip", "--wheelhouse", str(wheelhouse))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3.6.0 is older than 4.2" in result.stdout
    calls = (tmp_path / "new.log").read_text().splitlines()
    install = next(line for line in calls if "install-file" in line)
    assert install.startswith("--command extension install-file --repo user_default --enable ")
    with zipfile.ZipFile(tmp_path / "new.log.zip") as archive:
        names = archive.namelist()
    assert "blender_manifest.toml" in names and any(n.startswith("wheels/pyzmq") for n in names)
    assert "install-file" not in (tmp_path / "old.log").read_text()
    assert "extension in 1 Blender(s)" in result.stdout
    removed = setup("--uninstall")
    assert removed.returncode == 0, removed.stderr
    assert "--command extension remove xdub" in (tmp_path / "new.log").read_text()
    assert new.is_file() and old.is_file()
