"""The installer's folders agree with platformdirs; the checked-in locks are complete."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import platformdirs.windows
import pytest
from platformdirs.macos import MacOS
from platformdirs.unix import Unix
from platformdirs.windows import Windows

from xdub.errors import XdubError
from xdub.setup import locks
from xdub.setup.accelerator import TORCH_BUILDS
from xdub.setup.layout import Layout, data_dir

sys.path.insert(0, str(locks.LOCK_DIR))
import refresh  # noqa: E402  (installers/locks/refresh.py)


def test_data_dir_matches_platformdirs_on_every_os(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "AppData" / "Local"))
    # What platformdirs reads on Windows, answered from the environment (as it does there
    # when neither ctypes nor the registry is available).
    monkeypatch.setattr(
        platformdirs.windows, "get_win_folder", platformdirs.windows.get_win_folder_from_env_vars
    )
    env = {"LOCALAPPDATA": str(tmp_path / "AppData" / "Local")}
    assert data_dir("linux", tmp_path, {}) == Path(Unix("xdub").user_data_dir)
    assert data_dir("darwin", tmp_path, {}) == Path(MacOS("xdub").user_data_dir)
    assert data_dir("windows", tmp_path, env) == Path(Windows("xdub").user_data_dir)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir("linux", tmp_path, {"XDG_DATA_HOME": str(tmp_path / "xdg")}) == Path(
        Unix("xdub").user_data_dir
    )
    assert data_dir("windows", tmp_path, {"XDUB_DATA_DIR": "/x"}) == Path("/x")


def test_launchers_run_the_current_environment(tmp_path: Path) -> None:
    layout = Layout.for_user("linux", tmp_path, {})
    assert layout.launcher("xdub") == tmp_path / ".local" / "bin" / "xdub"
    assert layout.current_env() is None
    text = layout.launcher_text("xdub")
    assert text.startswith("#!/bin/sh\n") and str(layout.current_file) in text
    windows = Layout.for_user("windows", tmp_path, {"LOCALAPPDATA": "C:\\Users\\e\\AppData\\Local"})
    assert windows.launcher("xdub").name == "xdub.cmd"
    assert "\\venv\\Scripts\\xdub.exe" in windows.launcher_text("xdub")


def _lock_paths() -> list[Path]:
    return sorted(locks.LOCK_DIR.glob("pylock.*.toml"))


def test_every_checked_in_lock_is_a_refresh_target_and_a_known_build() -> None:
    targets = {target.name for target in refresh.TARGETS}
    assert _lock_paths(), "no lock files"
    for path in _lock_paths():
        name = path.name.removeprefix("pylock.").removesuffix(".toml")
        assert name in targets
        assert name.rsplit("-", 1)[1] in TORCH_BUILDS
    assert {target.name.rsplit("-", 1)[1] for target in refresh.TARGETS} <= set(TORCH_BUILDS)


@pytest.mark.parametrize("path", _lock_paths(), ids=lambda path: path.name)
def test_lock_pins_every_wheel_by_url_and_hash(path: Path) -> None:
    packages = {package.name: package for package in locks.read_lock(path)}
    assert packages["torch"].version == "2.14.1"
    assert packages["torchvision"].version == "0.29.1"
    assert {"setuptools", "pip", "pyzmq", "platformdirs", "pyside6-essentials"} <= set(packages)
    for package in packages.values():
        for wheel in package.wheels:
            assert wheel.url.startswith("https://") and wheel.filename.endswith(".whl")
            assert re.fullmatch(r"[0-9a-f]{64}", wheel.sha256)
    torch_wheels = [wheel.filename for wheel in packages["torch"].wheels]
    platform_tag = {"linux": "manylinux", "windows": "win_amd64", "darwin": "macosx"}
    assert all(platform_tag[path.name.split(".")[1].split("-")[0]] in f for f in torch_wheels)
    if "cu130" in path.name:
        assert "nvidia-cudnn-cu13" in packages


def test_missing_lock_names_the_ones_there_are() -> None:
    with pytest.raises(XdubError, match="no lock file for torch build 'cu126'") as caught:
        locks.find_lock("linux", "x86_64", "cu126")
    assert "--torch cu130" in (caught.value.hint or "")
    assert "refresh.py" in (caught.value.hint or "")


def test_wheelhouse_requirements_keep_versions_hashes_and_markers() -> None:
    package = locks.LockedPackage(
        "anyio", "4.16.0", (locks.LockedWheel("https://x/anyio-4.16.0-py3-none-any.whl", "ab"),),
        "sys_platform != 'emscripten'",
    )  # fmt: skip
    text = locks.wheelhouse_requirements([package])
    assert text == "anyio==4.16.0 ; sys_platform != 'emscripten' --hash=sha256:ab\n"


def test_refresh_compiles_per_platform_with_the_torch_backend() -> None:
    target = next(t for t in refresh.TARGETS if t.name == "windows-x86_64-cu128")
    command = refresh.compile_command("uv", target, locks.LOCK_DIR / "pylock.x.toml")
    text = " ".join(command)
    assert "--python-platform x86_64-pc-windows-msvc" in text
    assert "--python-version 3.11" in text and "--generate-hashes" in text
    assert "--torch-backend cu128" in text and "--format pylock.toml" in text


@pytest.mark.parametrize("path", _lock_paths(), ids=lambda path: path.name)
def test_lock_covers_every_dependency_of_pyproject(path: Path) -> None:
    # A dependency added to pyproject.toml without `installers/locks/refresh.py` fails here.
    import tomllib

    project = tomllib.loads((locks.REPO_ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["gui"]]
    names = {re.split(r"[<>=!~ \[;]", spec, maxsplit=1)[0].lower() for spec in wanted}
    locked = {package.name for package in locks.read_lock(path)}
    assert names <= locked, names - locked
