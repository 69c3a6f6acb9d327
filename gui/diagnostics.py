"""Diagnostics for bug reports: versions, the daemon's device, paths, recent errors, the log.

``diagnostics_text`` gathers what a maintainer asks for first; ``log_tail`` reads the end of
the daemon's rotating log without loading the whole file. Keys and message bodies never appear
in either (the daemon does not log them).
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from xdub.protocol.connection import default_connection_path
from xdub.protocol.messages import HelloReply
from xdub.protocol.schema import PROTOCOL_VERSION
from xdub_gui.jobs_model import JobRow

LOG_TAIL_BYTES = 256 * 1024
RECENT_ERRORS = 10
_PACKAGES = ("xdub", "PySide6", "pyzmq", "torch", "opentimelineio", "av")


def log_path() -> Path:
    """The daemon's log file (the daemon's config decides; ``$XDUB_LOG_DIR`` overrides)."""
    from xdub_daemon.config import DaemonConfig  # torch-free; imported where needed

    return DaemonConfig().log_path


def log_tail(path: Path, max_bytes: int = LOG_TAIL_BYTES) -> str:
    """The last ``max_bytes`` of the log, from a line start; a note if there is no log yet."""
    try:
        with path.open("rb") as stream:
            stream.seek(0, 2)
            size = stream.tell()
            stream.seek(max(0, size - max_bytes))
            data = stream.read()
    except FileNotFoundError:
        return f"(no daemon log at {path} yet: the daemon has not run on this account)"
    if size > max_bytes and b"\n" in data:
        data = data.split(b"\n", 1)[1]
    return data.decode("utf-8", errors="replace")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def diagnostics_text(
    *,
    hello: HelloReply | None,
    rows: Sequence[JobRow],
    model_dir: str | None,
    log_file: Path,
    connection_file: Path | None = None,
) -> str:
    """A plain-text report: versions, GPU/device, paths, and the recent job errors."""
    lines = ["# xdub diagnostics", ""]
    lines.append(f"os: {platform.platform()}")
    lines.append(f"python: {sys.version.split()[0]} ({sys.executable})")
    lines.extend(f"{package}: {_version(package)}" for package in _PACKAGES)
    lines.append(f"protocol (tray): {PROTOCOL_VERSION}")
    lines.append("")
    if hello is None:
        lines.append("daemon: not running")
    else:
        lines.append(f"daemon: xdub {hello.xdub_version}, pid {hello.pid}")
        lines.append(f"device: {hello.device}")
        lines.append(f"protocol (daemon): {hello.protocol_version}")
        lines.append(f"models ready: {'yes' if hello.models_ready else 'no'}")
    lines.append(f"connection file: {connection_file or default_connection_path()}")
    lines.append(f"model folder: {model_dir or 'unknown'}")
    lines.append(f"daemon log: {log_file}")
    lines.append("")
    failed = [row for row in rows if row.error is not None][:RECENT_ERRORS]
    lines.append(f"recent errors ({len(failed)}):")
    lines.extend(
        f"- {row.job_id} {row.name}: {row.error.code}: {row.error.message}"
        for row in failed
        if row.error is not None
    )
    return "\n".join(lines) + "\n"
