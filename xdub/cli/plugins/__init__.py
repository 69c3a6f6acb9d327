"""``xdub plugins``: build and install the host plugins.

xdub plugins build blender [-o DIST] [--wheel-cache DIR] [--offline]
xdub plugins install|uninstall resolve

The command lives here; the work in the package's modules: ``build`` (the Blender extension
zip), ``resolve_install`` (the Resolve scripts), ``vendor`` (the protocol copy both carry).
Not to be confused with the top-level ``plugins/`` folder, the plugins' own source.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from xdub.cli.plugins.resolve_command import register_install


def register(subparsers: Any) -> None:
    """Add the ``plugins`` command group to the top-level ``subparsers``."""
    plugins = subparsers.add_parser("plugins", help="build the host plugins")
    commands = plugins.add_subparsers(dest="plugins_command", metavar="PLUGINS_COMMAND")
    commands.required = True
    build = commands.add_parser(
        "build",
        help="write a plugin's installable package",
        description="Write the Blender extension zip (install it with Blender's "
        "Preferences > Get Extensions > Install from Disk).",
    )
    build.add_argument("host", choices=("blender",), help="which plugin to build")
    build.add_argument("-o", "--output-dir", type=Path, default=Path("dist"), help="default: dist")
    build.add_argument(
        "--wheel-cache", type=Path, help="folder of bundled wheels (default: the user cache)"
    )
    build.add_argument(
        "--offline", action="store_true", help="use only cached wheels; never run pip download"
    )
    build.set_defaults(handler=run_build)
    register_install(commands)  # xdub plugins install|uninstall resolve


def run_build(args: argparse.Namespace) -> int:
    """Handler of ``xdub plugins build``."""
    from xdub.cli.plugins.build import build_blender

    archive = build_blender(args.output_dir, wheel_cache=args.wheel_cache, offline=args.offline)
    print(archive)
    return 0
