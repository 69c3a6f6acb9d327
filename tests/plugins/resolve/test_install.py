"""``xdub plugins install|uninstall resolve`` into a temporary home, for each OS layout."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from xdub.cli import main
from xdub.cli.plugins.resolve_install import (
    MENU_SCRIPTS,
    PLUGIN_FOLDER,
    PLUGIN_SOURCE,
    install,
    uninstall,
)

SUPPORT = Path("Library") / "Application Support"


def _layouts(home: Path) -> dict[str, tuple[dict[str, str], list[Path]]]:
    """Per OS: the environment and the Fusion roots hosts.md §A3 names for ``home``."""
    appdata = home / "AppData" / "Roaming"
    container = home / "Library" / "Containers" / "com.blackmagic-design.DaVinciResolveLite"
    return {
        "linux": ({}, [home / ".local" / "share" / "DaVinciResolve" / "Fusion"]),
        "win32": (
            {"APPDATA": str(appdata)},
            [appdata / "Blackmagic Design" / "DaVinci Resolve" / "Support" / "Fusion"],
        ),
        "darwin": (
            {},
            [
                home / SUPPORT / "Blackmagic Design" / "DaVinci Resolve" / "Fusion",
                container / "Data" / SUPPORT / "Blackmagic Design" / "DaVinci Resolve" / "Fusion",
                container / "Data" / SUPPORT / "Fusion",
            ],
        ),
    }


def _snapshot(home: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(home)): path.read_bytes()
        for path in sorted(home.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("platform", ["linux", "win32", "darwin"])
def test_install_is_idempotent_and_uninstall_removes_only_ours(
    tmp_path: Path, platform: str
) -> None:
    home = tmp_path / "home"
    env, roots = _layouts(home)[platform]
    if platform == "darwin":
        (roots[1].parents[4]).mkdir(parents=True)  # the App Store container exists
    user_script = roots[0] / "Scripts" / "Edit" / "Someone else's.py"
    user_script.parent.mkdir(parents=True)
    user_script.write_text("print('mine')\n")

    written = install(home=home, platform=platform, env=env, python="/opt/xdub/bin/python")
    for root in roots:
        for category in ("Edit", "Utility"):
            for name in MENU_SCRIPTS:
                assert root / "Scripts" / category / name in written
        plugin = root / PLUGIN_FOLDER
        assert (plugin / "xdub_resolve" / "dub_clip.py").is_file()
        vendored = plugin / "xdub_resolve" / "xdub_protocol"
        for name in ("signing.py", "otio_json.py", "client.py", "takes.py", "exceptions.py"):
            assert (vendored / name).is_file(), name
        assert not list(plugin.rglob("__pycache__"))
        menu = (root / "Scripts" / "Edit" / "XDub – Dub clip.py").read_text(encoding="utf-8")
        assert f"PLUGIN_DIR = {str(plugin)!r}  # xdub:plugin-dir" in menu
        lua = (root / "Scripts" / "Utility" / "XDub – Dub clip (Lua).lua").read_text(
            encoding="utf-8"
        )
        assert f"local PLUGIN_DIR = [==[{plugin}]==] -- xdub:plugin-dir" in lua
        assert "local PYTHON = [==[/opt/xdub/bin/python]==] -- xdub:python" in lua
    first = _snapshot(home)
    install(home=home, platform=platform, env=env, python="/opt/xdub/bin/python")
    assert _snapshot(home) == first

    removed = uninstall(home=home, platform=platform, env=env)
    assert len(removed) == len(roots) * (2 * len(MENU_SCRIPTS) + 1)
    assert _snapshot(home) == {str(user_script.relative_to(home)): b"print('mine')\n"}
    assert uninstall(home=home, platform=platform, env=env) == []


def test_installed_plugin_imports_with_the_stdlib_only(tmp_path: Path) -> None:
    install(home=tmp_path, platform="linux", env={})
    plugin = tmp_path / ".local" / "share" / "DaVinciResolve" / "Fusion" / PLUGIN_FOLDER
    program = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        sys.path.insert(0, sys.argv[1])
        from xdub_resolve import collect, dub_clip, job, link, lua_host
        from xdub_resolve.xdub_protocol import client, exceptions, otio_json, takes
        assert client.__file__.startswith(sys.argv[1]), client.__file__
        assert job.otio_json is otio_json
        assert not client.has_pyzmq()
        c = link.DaemonClient(Path(sys.argv[2]) / "none.json", client_name="test")
        assert type(c.transport).__name__ == "BridgeTransport", c.transport
        try:
            c.hello()
        except exceptions.ProtocolError as error:
            print(error.code)
        assert not {"zmq", "xdub"} & set(sys.modules), sorted(sys.modules)
        """
    )
    # -S: no site-packages, as in a Resolve Python with nothing installed; -I: no user paths
    result = subprocess.run(
        [sys.executable, "-S", "-I", "-c", program, str(plugin), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["daemon_not_running"]


def test_cli_installs_into_the_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(sys, "platform", "linux")
    assert main(["plugins", "install", "resolve"]) == 0
    edit = tmp_path / ".local" / "share" / "DaVinciResolve" / "Fusion" / "Scripts" / "Edit"
    assert (edit / "XDub – Dub clip.py").is_file()
    assert main(["plugins", "uninstall", "resolve"]) == 0
    assert not (edit / "XDub – Dub clip.py").exists()


@pytest.mark.parametrize("name", [n for n in MENU_SCRIPTS if n.endswith(".py")])
def test_an_old_python_is_told_clearly(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The vendored code needs Python 3.10+: an older Resolve Python gets a Console message."""
    import runpy

    install(home=tmp_path, platform="linux", env={})
    script = tmp_path / ".local/share/DaVinciResolve/Fusion/Scripts/Edit" / name
    monkeypatch.setattr(sys, "version_info", (3, 9, 18, "final", 0))
    before = set(sys.modules)
    runpy.run_path(str(script), run_name="__main__")
    printed = capsys.readouterr().out
    assert "Python 3.10" in printed and "3.9.18" in printed, printed
    assert not {m for m in set(sys.modules) - before if m.startswith("xdub_resolve")}


@pytest.mark.parametrize("name", [*(n for n in MENU_SCRIPTS if n.endswith(".py")), "xdub_menu.py"])
def test_what_an_old_python_reads_parses_there(name: str) -> None:
    """The menu scripts and their version check use no syntax newer than Python 3.4 (an
    f-string there would be a SyntaxError before the check could say anything)."""
    source = (PLUGIN_SOURCE / name).read_text(encoding="utf-8")
    ast.parse(source, filename=name, feature_version=(3, 4))
    assert "xdub_menu.run(" in source or name == "xdub_menu.py"
