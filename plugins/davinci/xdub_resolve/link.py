"""The daemon client as Resolve's scripts use it: ``DaemonClient`` from the protocol copy.

Stdlib-only. The client talks pyzmq when Resolve's Python has it, else ``xdub bridge`` run by
the daemon's own Python (docs/resolve.md); either way ``open_client`` says hello first, so a
missing daemon is reported before any work is done.
"""

from __future__ import annotations

from pathlib import Path

from xdub_resolve.xdub_protocol.client import DaemonClient

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
