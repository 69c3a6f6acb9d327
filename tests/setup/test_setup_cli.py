"""``xdub setup`` for real in a throwaway HOME: dry run, setup, idempotence, uninstall."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RESOLVE_USER = Path(".local/share/DaVinciResolve")
UNIT = Path(".config/systemd/user/xdub-daemon.service")


def file_list(home: Path) -> list[str]:
    return sorted(str(path.relative_to(home)) for path in home.rglob("*"))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / RESOLVE_USER).mkdir(parents=True)  # Resolve has run once for this user
    (home / "Documents").mkdir()
    return home


def xdub(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "XDUB_"))}
    env.update(HOME=str(home), XDG_RUNTIME_DIR=str(home.parent / "run"))
    (home.parent / "run").mkdir(mode=0o700, exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "xdub", "setup", *args], env=env, capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip


def test_dry_run_prints_every_change_and_changes_nothing(home: Path) -> None:
    before = file_list(home)
    result = xdub(home, "--dry-run", "--models", "skip")
    assert result.returncode == 0, result.stderr
    assert str(home / UNIT) in result.stdout
    assert str(home / RESOLVE_USER / "Fusion" / "Scripts") in result.stdout
    assert "health check:" in result.stdout and "daemon" in result.stdout
    assert file_list(home) == before


def test_setup_installs_is_idempotent_and_uninstall_restores_home(home: Path) -> None:
    before = file_list(home)
    first = xdub(home, "--no-start", "--models", "skip")
    assert first.returncode == 0, first.stdout + first.stderr
    fusion = home / RESOLVE_USER / "Fusion"
    assert (fusion / "Scripts" / "Edit" / "XDub – Dub clip.py").is_file()
    assert (fusion / "XDub" / "xdub_resolve").is_dir()
    assert "ExecStart=" in (home / UNIT).read_text()
    table = first.stdout.split("health check:")[1]
    for row in ("device", "daemon", "models", "resolve", "service"):
        assert f"\n{row} " in table
    manifest = home / ".local/share/xdub/install-manifest.json"
    entries = json.loads(manifest.read_text())["entries"]
    after_first = file_list(home)

    second = xdub(home, "--no-start", "--models", "skip")
    assert second.returncode == 0, second.stderr
    assert file_list(home) == after_first
    assert json.loads(manifest.read_text())["entries"] == entries

    # The user's data from using xdub: models, settings, the job store.
    data = home / ".local/share/xdub"
    (data / "models" / "x-dub").mkdir(parents=True)
    (data / "models" / "x-dub" / "dit.safetensors").write_bytes(b"weights")
    (data / "jobs.sqlite3").write_bytes(b"jobs")
    (home / ".config/xdub/settings.json").write_text("{}")
    kept = xdub(home, "--uninstall")
    assert kept.returncode == 0, kept.stderr
    user_data = {
        ".local", ".local/share", ".local/share/xdub", ".local/share/xdub/models",
        ".local/share/xdub/models/x-dub", ".local/share/xdub/models/x-dub/dit.safetensors",
        ".local/share/xdub/jobs.sqlite3", ".config", ".config/xdub",
        ".config/xdub/settings.json",
    }  # fmt: skip
    assert set(file_list(home)) == set(before) | user_data
    assert not (fusion / "Scripts").exists() and (home / RESOLVE_USER).is_dir()


def test_uninstall_purge_leaves_home_as_it_found_it(home: Path) -> None:
    before = file_list(home)
    assert xdub(home, "--no-start", "--models", "skip").returncode == 0
    (home / ".local/share/xdub/jobs.sqlite3").write_bytes(b"jobs")
    result = xdub(home, "--uninstall", "--purge")
    assert result.returncode == 0, result.stderr
    assert file_list(home) == before
