"""Install the DaVinci Resolve scripts per user (``xdub plugins install|uninstall resolve``).

Resolve lists ``<Fusion>/Scripts/Edit`` (Edit page) and ``<Fusion>/Scripts/Utility`` (every page)
under Workspace > Scripts (hosts.md §A3). Per-user ``<Fusion>`` roots:

- Linux: ``~/.local/share/DaVinciResolve/Fusion``;
- macOS: ``~/Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion``, plus, for
  each Mac App Store container ``~/Library/Containers/com.blackmagic-design.*/Data``, both its
  ``Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion`` and its
  ``Library/Application Support/Fusion`` (builds disagree about which one is scanned);
- Windows: ``%APPDATA%\\Blackmagic Design\\DaVinci Resolve\\Support\\Fusion`` (the per-user tree
  has a ``Support`` segment; ``%APPDATA%`` already ends in ``Roaming``).

The menu scripts go into both categories; the plugin itself (``xdub_resolve`` with its copy of
the protocol package, ``xdub_resolve/xdub_protocol`` from ``xdub.cli.plugins.vendor`` as in the
Blender extension, and the Lua launcher) into ``<Fusion>/XDub``, which Resolve does not
list. Menu scripts get that folder's path, and the Lua ones this Python, written in. Installing
again replaces everything with the same files; uninstalling removes only what we installed.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from xdub.cli.plugins.vendor import VENDOR_PACKAGE, vendor_protocol
from xdub.errors import XdubError

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[3]
PLUGIN_SOURCE = REPO_ROOT / "plugins" / "davinci"
PLUGIN_FOLDER = "XDub"
CATEGORIES = ("Edit", "Utility")
MENU_SCRIPTS = (
    "XDub – Dub clip.py",
    "XDub – Collect finished takes.py",
    "XDub – Dub clip (Lua).lua",
    "XDub – Collect finished takes (Lua).lua",
)
PLUGIN_FILES = ("xdub_menu.py", "xdub_lua_host.py", "xdub_launcher.lua")
APP_STORE_CONTAINERS = "com.blackmagic-design.*"
_PLUGIN_DIR_LINE = re.compile(
    r"^(?P<lead>.*?PLUGIN_DIR = ).*?(?P<tag>\s*(#|--) xdub:plugin-dir)$", re.M
)
_PYTHON_LINE = re.compile(r"^(?P<lead>.*?PYTHON = ).*?(?P<tag>\s*-- xdub:python)$", re.M)
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", VENDOR_PACKAGE)


def _install_error(message: str, hint: str | None = None) -> XdubError:
    return XdubError(message, code="internal", hint=hint)


def fusion_roots(platform: str, home: Path, env: Mapping[str, str]) -> list[Path]:
    """The per-user ``Fusion`` folders Resolve scans on ``platform`` (``sys.platform`` style)."""
    if platform == "win32":
        appdata = Path(env.get("APPDATA") or home / "AppData" / "Roaming")
        return [appdata / "Blackmagic Design" / "DaVinci Resolve" / "Support" / "Fusion"]
    if platform == "darwin":
        support = Path("Library") / "Application Support"
        roots = [home / support / "Blackmagic Design" / "DaVinci Resolve" / "Fusion"]
        containers = home / "Library" / "Containers"
        for container in sorted(containers.glob(APP_STORE_CONTAINERS)):
            data = container / "Data" / support
            roots += [data / "Blackmagic Design" / "DaVinci Resolve" / "Fusion", data / "Fusion"]
        return roots
    return [home / ".local" / "share" / "DaVinciResolve" / "Fusion"]


def _literal(path: str, lua: bool) -> str:
    if lua:
        return "[==[" + path + "]==]"
    return repr(path)


def render_menu_script(text: str, plugin_dir: Path, python: str, *, lua: bool) -> str:
    """A menu script with the plugin folder (and, for Lua, the Python) written in."""
    rendered, count = _PLUGIN_DIR_LINE.subn(
        lambda m: m["lead"] + _literal(str(plugin_dir), lua) + m["tag"], text
    )
    if count != 1:
        raise _install_error("a menu script lacks its '# xdub:plugin-dir' line")
    if lua:
        rendered, count = _PYTHON_LINE.subn(
            lambda m: m["lead"] + _literal(python, True) + m["tag"], rendered
        )
        if count != 1:
            raise _install_error("a Lua menu script lacks its '-- xdub:python' line")
    return rendered


def stage_plugin(plugin_dir: Path) -> Path:
    """Write the plugin folder (``xdub_resolve`` with its protocol copy, the Lua helpers)."""
    if plugin_dir.exists():
        shutil.rmtree(plugin_dir)
    shutil.copytree(PLUGIN_SOURCE / "xdub_resolve", plugin_dir / "xdub_resolve", ignore=_IGNORED)
    vendor_protocol(plugin_dir / "xdub_resolve")
    for name in PLUGIN_FILES:
        shutil.copy2(PLUGIN_SOURCE / name, plugin_dir / name)
    return plugin_dir


def install(
    *,
    home: Path | None = None,
    platform: str | None = None,
    env: Mapping[str, str] | None = None,
    python: str | None = None,
) -> list[Path]:
    """Install into every per-user Fusion root; returns the menu scripts written.

    ``platform`` (``sys.platform`` style), ``env`` and ``python`` (written into the Lua
    launchers) default to this process's.
    """
    if not (PLUGIN_SOURCE / "xdub_resolve").is_dir():
        raise _install_error(
            f"the Resolve plugin source is missing at {PLUGIN_SOURCE}",
            hint="install xdub from a source checkout (the plugins/ folder)",
        )
    written = []
    python = python or sys.executable
    for root in fusion_roots(
        platform or sys.platform, home or Path.home(), os.environ if env is None else env
    ):
        plugin_dir = root / PLUGIN_FOLDER
        stage_plugin(plugin_dir)
        for category in CATEGORIES:
            folder = root / "Scripts" / category
            folder.mkdir(parents=True, exist_ok=True)
            for name in MENU_SCRIPTS:
                text = (PLUGIN_SOURCE / name).read_text(encoding="utf-8")
                rendered = render_menu_script(text, plugin_dir, python, lua=name.endswith(".lua"))
                (folder / name).write_text(rendered, encoding="utf-8")
                written.append(folder / name)
        log.info("installed the XDub Resolve scripts under %s", root)
    return written


def uninstall(
    *,
    home: Path | None = None,
    platform: str | None = None,
    env: Mapping[str, str] | None = None,
) -> list[Path]:
    """Remove what ``install`` wrote (other scripts stay); returns the paths removed."""
    removed = []
    for root in fusion_roots(
        platform or sys.platform, home or Path.home(), os.environ if env is None else env
    ):
        for category in CATEGORIES:
            for name in MENU_SCRIPTS:
                path = root / "Scripts" / category / name
                if path.is_file():
                    path.unlink()
                    removed.append(path)
        if (root / PLUGIN_FOLDER).is_dir():
            shutil.rmtree(root / PLUGIN_FOLDER)
            removed.append(root / PLUGIN_FOLDER)
    return removed
