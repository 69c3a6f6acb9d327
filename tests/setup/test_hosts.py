"""Resolve and Blender discovery on Linux, macOS and Windows layouts laid out in tmp_path.

The Blender executables are files in those layouts; what ``blender --version`` prints is
answered per path (Windows and macOS binaries cannot run here).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from xdub.setup.hosts import HostProbe, blender_version, find_blenders, resolve_roots


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    return path


def _probe(system: str, tmp_path: Path, versions: dict[Path, str], env: dict[str, str],
           which: Path | None = None) -> HostProbe:  # fmt: skip
    def run(argv: list[str]) -> str | None:
        return versions.get(Path(argv[0]))

    return HostProbe(system, tmp_path / "home", env, tmp_path / "root", run,
                     lambda name: str(which) if which else None)  # fmt: skip


def test_linux_blenders_from_opt_home_flatpak_and_path(tmp_path: Path) -> None:
    root, home = tmp_path / "root", tmp_path / "home"
    opt = _touch(root / "opt" / "blender-4.2.3-linux-x64" / "blender")
    old = _touch(home / "blender-3.6.5-linux-x64" / "blender")
    flatpak = _touch(
        home / ".local" / "share" / "flatpak" / "exports" / "bin" / "org.blender.Blender"
    )
    on_path = _touch(tmp_path / "bin" / "blender")
    versions = {opt: "Blender 4.2.3 LTS\n", old: "Blender 3.6.5\n", flatpak: "Blender 5.0.1\n",
                on_path: "Blender 4.5.2 LTS\n"}  # fmt: skip
    found, notes = find_blenders(_probe("linux", tmp_path, versions, {}, which=on_path))
    assert [(b.executable, b.version) for b in found] == [
        (on_path, (4, 5, 2)), (opt, (4, 2, 3)), (flatpak, (5, 0, 1)),
    ]  # fmt: skip
    assert any("3.6.5 is older than 4.2" in note for note in notes)


def test_macos_blenders_in_both_applications_folders(tmp_path: Path) -> None:
    root, home = tmp_path / "root", tmp_path / "home"
    app = _touch(root / "Applications" / "Blender.app" / "Contents" / "MacOS" / "Blender")
    user = _touch(home / "Applications" / "Blender 4.2.app" / "Contents" / "MacOS" / "Blender")
    versions = {app: "Blender 5.0.1\n", user: "Blender 4.2.9 LTS\n"}
    found, _ = find_blenders(_probe("darwin", tmp_path, versions, {}))
    assert [b.executable for b in found] == [app, user]


def test_windows_blenders_in_program_files_and_steam(tmp_path: Path) -> None:
    program_files = tmp_path / "root" / "Program Files"
    foundation = program_files / "Blender Foundation"
    b42 = _touch(foundation / "Blender 4.2" / "blender.exe")
    b50 = _touch(foundation / "Blender 5.0" / "blender.exe")
    steam = _touch(program_files / "Steam" / "steamapps" / "common" / "Blender" / "blender.exe")
    broken = _touch(foundation / "Blender 4.4" / "blender.exe")
    versions = {b42: "Blender 4.2.0\n", b50: "Blender 5.0.0\n", steam: "Blender 4.5.0\n"}
    env = {"ProgramFiles": str(program_files)}
    found, notes = find_blenders(_probe("windows", tmp_path, versions, env))
    assert [b.executable for b in found] == [b42, b50, steam]
    assert any(str(broken) in note and "did not report a version" in note for note in notes)


def test_blender_version_line() -> None:
    assert blender_version("Blender 4.2.3 LTS\n\tbuild date: ...") == (4, 2, 3)
    assert blender_version("Blender 5.0\n") == (5, 0)
    assert blender_version("Color management: ...") is None


@pytest.mark.parametrize(
    ("system", "marker", "expected"),
    [
        ("linux", "root/opt/resolve/bin/resolve", "home/.local/share/DaVinciResolve/Fusion"),
        ("darwin", "root/Applications/DaVinci Resolve/DaVinci Resolve.app",
         "home/Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion"),
        ("windows", "pf/Blackmagic Design/DaVinci Resolve/Resolve.exe",
         "appdata/Blackmagic Design/DaVinci Resolve/Support/Fusion"),
    ],
)  # fmt: skip
def test_resolve_found_by_its_application_per_os(
    tmp_path: Path, system: str, marker: str, expected: str
) -> None:
    env = {"ProgramFiles": str(tmp_path / "pf"), "APPDATA": str(tmp_path / "appdata")}
    probe = _probe(system, tmp_path, {}, env)
    assert resolve_roots(probe) == []  # no Resolve: nothing to install
    _touch(tmp_path / marker)
    assert resolve_roots(probe) == [tmp_path / expected]


def test_resolve_found_by_its_user_folder_and_app_store_containers(tmp_path: Path) -> None:
    home = tmp_path / "home"
    container = home / "Library" / "Containers" / "com.blackmagic-design.DaVinciResolveLite"
    (container / "Data" / "Library" / "Application Support" / "Fusion").mkdir(parents=True)
    (home / "Library" / "Application Support" / "Blackmagic Design" / "DaVinci Resolve").mkdir(
        parents=True
    )
    roots = resolve_roots(_probe("darwin", tmp_path, {}, {}))
    assert len(roots) == 3 and roots[0].parent.name == "DaVinci Resolve"
