"""``xdub plugins install|uninstall resolve``: the DaVinci Resolve scripts, per user.

Registered by ``xdub.cli.plugins`` under its ``plugins`` group.
"""

from __future__ import annotations

import argparse
from typing import Any


def register_install(commands: Any) -> None:
    """Add ``install`` and ``uninstall`` to the ``plugins`` group's ``commands``."""
    for name, handler, text in (
        ("install", run_install, "copy a host's scripts into its per-user folders"),
        ("uninstall", run_uninstall, "remove what `xdub plugins install` copied"),
    ):
        parser = commands.add_parser(name, help=text, description=text)
        parser.add_argument("host", choices=("resolve",), help="which host")
        parser.set_defaults(handler=handler)


def run_install(args: argparse.Namespace) -> int:
    from xdub.cli.plugins.resolve_install import install

    for path in install():
        print(path)
    print("Restart nothing: the scripts appear under Workspace > Scripts when it next opens.")
    return 0


def run_uninstall(args: argparse.Namespace) -> int:
    from xdub.cli.plugins.resolve_install import uninstall

    removed = uninstall()
    for path in removed:
        print(f"removed {path}")
    if not removed:
        print("nothing to remove: the Resolve scripts were not installed")
    return 0
