"""Daemon logging: a rotating file in the log folder, and ``job_id`` on every job's line.

Libraries log through ``logging.getLogger(__name__)``; only the daemon's processes call
``setup_logging``. Keys and message bodies are never logged.
"""

from __future__ import annotations

import logging
import logging.handlers
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

LOG_MAX_BYTES = 5 * 2**20
LOG_BACKUPS = 3
_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"


def setup_logging(path: Path, *, level: int = logging.INFO) -> Path:
    """Send this process's log records to the rotating file ``path`` (5 MiB x 4)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter(_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(level)
    return path


class JobLog(logging.LoggerAdapter):  # type: ignore[type-arg,unused-ignore]
    """A logger that prefixes each line with ``[job <id>]``."""

    def __init__(self, logger: logging.Logger, job_id: str) -> None:
        super().__init__(logger, {"job_id": job_id})

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        extra = self.extra or {}
        return f"[job {extra.get('job_id')}] {msg}", kwargs
