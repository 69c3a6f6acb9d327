"""The CLI's daemon client: ``xdub.protocol.client.DaemonClient`` with xdub's version.

The client itself lives in the protocol package (stdlib-only, so the host plugins use the same
one); this module names the CLI as the client, fills in the installed version, and has a remote
daemon sent the cut of a long source's used range (``xdub.job.cut_source``; the hosts' copies
send the whole file).
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
    """``xdub.protocol.client.DaemonClient`` named ``xdub-cli`` (by default) at this version,
    uploading the used range of a long source (``cut_job_source``)."""

    def __init__(
        self, connection_file: Path | None = None, *, client_name: str = "xdub-cli", **kwargs: Any
    ) -> None:
        kwargs.setdefault("client_version", __version__)
        super().__init__(connection_file, client_name=client_name, **kwargs)
        self.media.prepare = _cut_source


def _cut_source(otio_json: str, folder: Path) -> str:
    """``cut_job_source``, imported when a remote upload needs it (PyAV, OTIO, numpy)."""
    from xdub.job.cut_source import cut_job_source

    return cut_job_source(otio_json, folder)
