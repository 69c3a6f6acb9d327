"""The ``xdub`` command line.

Each command group lives in its own module exposing ``register(subparsers)``; that function
adds its parsers and sets ``handler`` (a callable taking the parsed namespace and returning an
exit code). Handlers import heavy libraries (torch, av) themselves so ``xdub --help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib import import_module

from xdub import __version__
from xdub.errors import XdubError
from xdub.protocol.precheck import disk_full_from

log = logging.getLogger(__name__)

COMMAND_MODULES = (
    "xdub.cli.bridge",
    "xdub.cli.daemon",
    "xdub.cli.demo",
    "xdub.cli.dub",
    "xdub.cli.eval",
    "xdub.cli.jobs",
    "xdub.cli.media",
    "xdub.cli.models",
    "xdub.cli.plugins",
    "xdub.cli.remote",
    "xdub.cli.setup",
)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every command group registered."""
    parser = argparse.ArgumentParser(prog="xdub", description="Visual dubbing for video editors.")
    parser.add_argument("--version", action="version", version=f"xdub {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module_name in COMMAND_MODULES:
        import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``xdub`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args) or 0)
    except XdubError as error:
        print(f"xdub: error [{error.code}]: {error}", file=sys.stderr)
        if error.hint:
            print(f"hint: {error.hint}", file=sys.stderr)
        return 2
    except OSError as error:
        full = disk_full_from(error, None, "what xdub was writing")
        if full is None:
            raise
        print(f"xdub: error [{full.code}]: {full}", file=sys.stderr)
        print(f"hint: {full.hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("xdub: interrupted", file=sys.stderr)
        return 130
