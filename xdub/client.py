"""The CLI's daemon client: ``xdub.protocol.client.DaemonClient`` with xdub's version.

The client itself lives in the protocol package (stdlib-only, so the host plugins use the same
one); this module only names the CLI as the client and fills in the installed version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xdub import __version__
from xdub.protocol.client import DaemonClient as _ProtocolClient
from xdub.protocol.client import new_job_id
from xdub.protocol.watch import JobUpdate, JobWatch

__all__ = ["DaemonClient", "JobUpdate", "JobWatch", "new_job_id"]


class DaemonClient(_ProtocolClient):
    """``xdub.protocol.client.DaemonClient`` named ``xdub-cli`` (by default) at this version."""

    def __init__(
        self, connection_file: Path | None = None, *, client_name: str = "xdub-cli", **kwargs: Any
    ) -> None:
        kwargs.setdefault("client_version", __version__)
        super().__init__(connection_file, client_name=client_name, **kwargs)
