"""``xdub setup``: put xdub into the editor's hosts and the login session, then check health.

xdub setup [--dry-run] [--wheelhouse DIR] [--models ask|download|skip] [--models-from DIR]
           [--no-start]
xdub setup --uninstall [--purge] [--dry-run]

Idempotent: running it again rewrites the same files. Everything it adds is recorded in the
install manifest, which ``--uninstall`` undoes; models stay unless ``--purge``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add ``setup`` to the top-level ``subparsers``."""
    setup = subparsers.add_parser(
        "setup",
        help="install the Resolve scripts, the Blender extension and the login service",
        description="Install the host plugins and the daemon's login service, offer the model "
        "download, and print a health check. --uninstall removes exactly what it added.",
    )
    setup.add_argument("--dry-run", action="store_true", help="print every change; change nothing")
    setup.add_argument("--uninstall", action="store_true", help="remove what setup added")
    setup.add_argument("--purge", action="store_true", help="with --uninstall: models and data too")
    setup.add_argument(
        "--wheelhouse", type=Path, help="offline: take the Blender extension's wheels from DIR"
    )
    setup.add_argument("--models", choices=("ask", "download", "skip"), default="ask")
    setup.add_argument("--models-from", help="a local folder laid out like the hub repo")
    setup.add_argument(
        "--no-start", action="store_true", help="write the service but neither register nor start"
    )
    setup.set_defaults(handler=run_setup)


def _context(args: argparse.Namespace) -> Any:
    from xdub.paths import default_log_dir
    from xdub.setup.hosts import this_machine_probe
    from xdub.setup.layout import Layout
    from xdub.setup.manifest import Manifest
    from xdub.setup.steps import SetupContext

    hosts = this_machine_probe()
    layout = Layout.of_this_user(hosts.system)
    return SetupContext(
        layout=layout,
        hosts=hosts,
        manifest=Manifest.load(layout.manifest),
        log_dir=default_log_dir(),
        dry_run=args.dry_run,
        wheelhouse=args.wheelhouse.resolve() if args.wheelhouse else None,
        start_daemon=not args.no_start,
    )


def _user_folders() -> list[Path]:
    from xdub.paths import cache_dir, data_dir, default_log_dir
    from xdub_gui.settings import config_dir

    return [data_dir(), config_dir(), cache_dir(), default_log_dir()]


def _stop_daemon() -> None:
    from xdub.cli.daemon import run_stop
    from xdub.errors import ProtocolError

    try:
        run_stop(argparse.Namespace(after_job=False))
    except ProtocolError:
        pass  # not running


def run_setup(args: argparse.Namespace) -> int:
    """Handler of ``xdub setup``."""
    from xdub.paths import default_model_dir
    from xdub.setup.health import format_table, health_rows
    from xdub.setup.steps import run_steps
    from xdub.setup.uninstall import uninstall

    ctx = _context(args)
    note = " (dry run: nothing changes)" if args.dry_run else ""
    if args.uninstall:
        print(f"xdub setup --uninstall{note}")
        notes = uninstall(
            ctx, purge=args.purge, user_folders=_user_folders(), stop_daemon=_stop_daemon
        )
        for line in notes:
            print(f"not removed: {line}", file=sys.stderr)
        print("kept: models, settings and job store (--purge removes them)" if not args.purge
              else "purged: models, settings, job store, caches and logs")  # fmt: skip
        return 1 if notes else 0
    print(f"xdub setup{note}")
    if not args.dry_run:
        for folder in _user_folders():
            ctx.manifest.make_dirs(folder)
    results = run_steps(ctx, args.models, args.models_from)
    print("\nhealth check:")
    print(format_table(health_rows(ctx.manifest, default_model_dir())))
    failed = [result.step for result in results if result.status == "failed"]
    if failed:
        print(f"\nfailed: {', '.join(failed)}; the rest is in place. Run `xdub setup` to retry.")
    return 1 if failed else 0
