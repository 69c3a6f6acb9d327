"""``xdub models list|download|delete`` through the running daemon, which owns its model folder.

Used when no DIR is given and a daemon runs: the daemon downloads (progress arrives as
``model_download`` events, the end as ``model_task``), lists and deletes, so the CLI and the
tray never write the folder behind its back. Without a daemon the CLI works on the folder itself.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from xdub.protocol.messages import ModelDownloadEvent, Models, ModelsReply, ModelTaskEvent
from xdub.protocol.records import DownloadState, ModelAction, ModelInfo

if TYPE_CHECKING:
    from xdub.client import DaemonClient

EVENT_POLL_S = 0.5


def running_daemon() -> DaemonClient | None:
    """A client of the running daemon, or None when none runs."""
    from xdub.client import DaemonClient
    from xdub.errors import ProtocolError
    from xdub.protocol.connection import find_daemon

    try:
        find_daemon()
    except ProtocolError:
        return None
    return DaemonClient()


def print_models(models: Sequence[ModelInfo], free_bytes: int | None) -> None:
    for info in models:
        needed = "" if info.is_required else " (optional)"
        size = f"{info.bytes_on_disk} B"
        print(f"{info.name:<18} {info.state.value:<12} {size:>16}  {info.path}{needed}")
    if free_bytes is not None:
        print(f"free: {free_bytes} B")


def list_models(client: DaemonClient) -> int:
    reply = _call(client, Models(ModelAction.LIST))
    print("the daemon's model folder (a daemon runs; give DIR to see another folder):")
    print_models(reply.models, reply.free_bytes)
    return 0


def download(client: DaemonClient, names: Sequence[str]) -> int:
    """Start the daemon's download and follow it to its end; Ctrl-C pauses it (the partial
    files stay; the same command resumes)."""
    _call(client, Models(ModelAction.DOWNLOAD, tuple(names)))
    print("the daemon is downloading (Ctrl-C pauses; the same command resumes)", file=sys.stderr)
    try:
        ended = _follow(client)
    except KeyboardInterrupt:
        _call(client, Models(ModelAction.CANCEL_DOWNLOAD))
        print("\npaused: run the same command to resume", file=sys.stderr)
        return 130
    print(f"download {ended.outcome.value}: {ended.note}".rstrip(": "))
    return 0 if ended.outcome is DownloadState.DONE else 1


def delete(client: DaemonClient, names: Sequence[str]) -> int:
    reply = _call(client, Models(ModelAction.DELETE, tuple(names)))
    print_models(reply.models, reply.free_bytes)
    return 0


def _follow(client: DaemonClient) -> ModelTaskEvent:
    """Print progress until the download's ``model_task`` event (a daemon that reports no
    running download twice in a row, with a poll between, ended it unreported)."""
    idle_polls = 0
    while idle_polls < 2:
        for message in client.events(EVENT_POLL_S):
            event = message.content
            if isinstance(event, ModelDownloadEvent):
                total = f"/{event.bytes_total}" if event.bytes_total else ""
                print(f"\r{event.name} {event.file}: {event.bytes_done}{total} B", end="")
            elif isinstance(event, ModelTaskEvent) and event.action is ModelAction.DOWNLOAD:
                print()
                return event
        is_idle = _call(client, Models(ModelAction.LIST)).running is None
        idle_polls = idle_polls + 1 if is_idle else 0
    raise SystemExit("the daemon's download ended without a report (see its log)")


def _call(client: DaemonClient, request: Models) -> ModelsReply:
    reply = client.call(request)
    if not isinstance(reply, ModelsReply):
        raise SystemExit(f"the daemon answered a models request with {reply!r}")
    return reply
