"""installers/install.sh's own part (seconds): a dry run prints the plan and changes nothing;
a machine without a lock for its build gets a clear error, before anything is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
pytestmark = pytest.mark.skipif(UV is None, reason="uv is not installed")


def install_sh(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (tmp_path / "bin").mkdir(exist_ok=True)
    if not (tmp_path / "bin" / "uv").exists():
        os.symlink(str(UV), tmp_path / "bin" / "uv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "XDUB_", "UV_"))}
    env.update(HOME=str(home), UV_PYTHON_DOWNLOADS="never",
               PATH=f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")  # fmt: skip
    return subprocess.run(
        ["sh", str(REPO_ROOT / "installers" / "install.sh"), *args], env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_dry_run_prints_every_step_and_changes_nothing(tmp_path: Path) -> None:
    result = install_sh(tmp_path, "--torch", "cu130", "--dry-run")
    assert result.returncode == 0, result.stderr
    for step in ("detect", "lock", "venv", "packages", "xdub", "check", "switch", "setup"):
        assert f"] {step}" in result.stdout
    assert "pylock.linux-x86_64-cu130.toml" in result.stdout
    assert "dry run: nothing changed" in result.stdout
    assert list((tmp_path / "home").iterdir()) == []


def test_a_build_without_a_lock_fails_before_installing_anything(tmp_path: Path) -> None:
    result = install_sh(tmp_path, "--torch", "cu126")
    assert result.returncode == 2
    assert "no lock file for torch build 'cu126' on linux-x86_64" in result.stderr
    assert "--torch cu130" in result.stderr
    assert not (tmp_path / "home" / ".local" / "share" / "xdub" / "app" / "envs").exists()
