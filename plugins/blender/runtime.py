"""What the extension owns while it is enabled: the daemon worker and the poll timer.

The timer drains the worker's updates into the scenes' job records (``jobs.drain``) and shows
progress in the status bar. After a .blend is loaded, its pending jobs are followed again.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import bpy

from . import jobs
from .core.placement import TAKES_FOLDER, takes_folder
from .worker import DaemonWorker

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.2
_state: dict[str, DaemonWorker] = {}


def preferences() -> Any:
    blender_prefs = bpy.context.preferences
    addon = blender_prefs.addons.get(__package__ or "") if blender_prefs else None
    return addon.preferences if addon else None


def connection_file() -> Path | None:
    """The preferences' connection file, or None for the default (``$XDUB_CONNECTION_FILE``)."""
    prefs = preferences()
    path = getattr(prefs, "connection_file", "") if prefs else ""
    return Path(bpy.path.abspath(path)) if path else None


def xdub_command() -> str:
    prefs = preferences()
    return (getattr(prefs, "xdub_command", "") if prefs else "") or "xdub"


def ensure_worker() -> DaemonWorker:
    """The running worker, started on first use."""
    worker = _state.get("worker")
    if worker is None:
        version = ".".join(str(part) for part in bpy.app.version)
        worker = DaemonWorker(connection_file(), client_version=f"blender {version}")
        _state["worker"] = worker
    worker.start()
    return worker


def poll() -> int:
    """Apply the worker's queued updates to every scene; returns how many were applied."""
    worker = _state.get("worker")
    if worker is None:
        return 0
    return jobs.drain(worker.updates, bpy.data.scenes)


def tick() -> float:
    """The ``bpy.app.timers`` callback: poll, then show progress in the status bar."""
    try:
        if poll():
            _redraw()
    except Exception:  # a timer that raises is unregistered for good
        log.exception("xdub poll failed")
    return POLL_INTERVAL_S


def _redraw() -> None:
    text = jobs.status_text(bpy.data.scenes) or None
    for window in getattr(bpy.context.window_manager, "windows", ()):
        window.workspace.status_text_set(text)
        for area in window.screen.areas:
            if area.type == "SEQUENCE_EDITOR":
                area.tag_redraw()


def watch_pending() -> int:
    """Follow every pending job of the open file again; returns how many."""
    job_ids = jobs.pending_job_ids(bpy.data.scenes)
    if job_ids:
        worker = ensure_worker()
        for job_id in job_ids:
            worker.watch(job_id, takes_dir())
    return len(job_ids)


def takes_dir() -> str:
    """Where a remote daemon's takes are downloaded: ``//xdub_takes/`` beside the .blend (an
    unsaved one: Blender's session temporary folder)."""
    return takes_folder(bpy.data.filepath) or os.path.join(bpy.app.tempdir, TAKES_FOLDER)


@bpy.app.handlers.persistent
def on_load_post(*_args: Any) -> None:
    watch_pending()


def start() -> None:
    if not bpy.app.timers.is_registered(tick):
        bpy.app.timers.register(tick, first_interval=POLL_INTERVAL_S, persistent=True)
    bpy.app.handlers.load_post.append(on_load_post)


def stop() -> None:
    """Unregister the timer and handler, stop and join the worker thread."""
    if bpy.app.timers.is_registered(tick):
        bpy.app.timers.unregister(tick)
    if on_load_post in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(on_load_post)
    worker = _state.pop("worker", None)
    if worker is not None:
        worker.stop()
