"""The one-daemon-per-user lock: ``fcntl.flock`` on a file beside the connection file."""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import IO

from xdub.errors import XdubError
from xdub.protocol.connection import ensure_private_dir


class DaemonLock:
    """The one-daemon-per-user lock (``fcntl.flock`` on a file; released when the process dies)."""

    def __init__(self, path: Path) -> None:
        ensure_private_dir(path.parent)
        self._stream: IO[bytes] | None = open(path, "ab")  # noqa: SIM115 - held for the lifetime
        try:
            fcntl.flock(self._stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._stream.close()
            raise XdubError(
                f"another xdub daemon holds {path}",
                code="internal",
                hint="use the running daemon (`xdub daemon status`) or stop it first",
            ) from None

    def release(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
