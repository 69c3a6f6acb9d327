"""``xdub setup --uninstall``: undo the manifest, newest entry first.

Models, settings and the job store stay unless ``purge``: then the data, config, cache and log
folders go too.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xdub.setup.manifest import Manifest
from xdub.setup.steps import SetupContext


def _undo(ctx: SetupContext, entry: dict[str, Any]) -> str | None:
    """Undo one entry; returns a note when something could not be undone."""
    path = Path(entry["path"])
    kind = entry["kind"]
    if kind == "service":
        for command in ctx.service().unregister_commands():
            ctx.run(command)  # an unregistered service is fine
        path.unlink(missing_ok=True)
    elif kind == "resolve":
        from xdub.cli.plugins import resolve_install

        resolve_install.uninstall(
            home=ctx.hosts.home, platform=ctx.hosts.sys_platform, env=ctx.hosts.env
        )
    elif kind == "blender":
        code, output = ctx.run([str(path), "--command", "extension", "remove", entry["extension"]])
        if code != 0 and path.exists():
            return f"Blender {path}: could not remove the extension ({output[-200:]})"
    elif kind == "file":
        path.unlink(missing_ok=True)
    elif kind == "tree":
        shutil.rmtree(path, ignore_errors=True)
    elif kind == "dir":
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return None


def uninstall(
    ctx: SetupContext, *, purge: bool, user_folders: list[Path], stop_daemon: Callable[[], None]
) -> list[str]:
    """Remove everything the manifest lists (and ``user_folders`` when ``purge``); returns
    notes on what could not be removed. ``stop_daemon`` runs first."""
    manifest = Manifest.load(ctx.layout.manifest)
    entries = list(reversed(manifest.entries))
    for entry in entries:
        ctx.say(f"  {'would remove' if ctx.dry_run else 'remove'} {entry['kind']}: {entry['path']}")
    if purge:
        for folder in user_folders:
            ctx.say(f"  {'would purge' if ctx.dry_run else 'purge'} {folder}")
    if ctx.dry_run:
        return []
    stop_daemon()
    ctx.layout.manifest.unlink(missing_ok=True)
    if purge:
        for folder in user_folders:
            shutil.rmtree(folder, ignore_errors=True)
    notes = [note for entry in entries if (note := _undo(ctx, entry))]
    return notes
