"""The daemon client as Resolve's scripts use it: ``DaemonClient`` from the protocol copy.

Stdlib-only. The client talks pyzmq when Resolve's Python has it, else ``xdub bridge`` run by
the daemon's own Python (docs/resolve.md); either way ``open_client`` says hello first, so a
missing daemon is reported before any work is done. ``local_take`` is a done job's take as a
file on this machine: a remote daemon's (the connection file decides) is downloaded.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from xdub_resolve.xdub_protocol.client import DaemonClient
from xdub_resolve.xdub_protocol.takes import Take, read_take

CLIENT_NAME = "resolve"
CLIENT_VERSION = "0.1.0"
REQUEST_TIMEOUT_S = 30.0


def open_client(connection_file: Path | None = None) -> DaemonClient:
    """A client of the running daemon (connected); raises ``daemon_not_running`` if none."""
    client = DaemonClient(
        connection_file,
        client_name=CLIENT_NAME,
        client_version=CLIENT_VERSION,
        timeout_s=REQUEST_TIMEOUT_S,
    )
    try:
        client.hello()
    except BaseException:
        client.close()
        raise
    return client


def local_take(
    client: DaemonClient,
    job_id: str,
    result_otio: str,
    write: Callable[[str], None],
    into: str | None = None,
) -> Take:
    """The take of the done job ``job_id`` (``result_otio``), its file on this machine. A
    remote daemon's is downloaded (resuming a cut-off download) into the file ``into``, else
    the ``output_dir`` the job was submitted with; a local daemon's stays where it is."""
    if not client.sends_media:
        return read_take(result_otio)
    write(f"XDub: downloading the take of job {job_id} from the daemon's machine")
    take = client.fetch_take(job_id, into)
    write(f"XDub: take downloaded to {take.path} ({client.last_transfer.bytes} bytes fetched)")
    return take
