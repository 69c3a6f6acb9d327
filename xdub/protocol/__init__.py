"""The daemon protocol (docs/protocol.md): messages, signing, the connection file, transport.

Everything but ``zmq_transport`` is stdlib-only and Python 3.10-compatible, so hosts' Pythons
(Resolve, Blender) use a copy (``HOST_MODULES``, vendored by ``xdub.cli.plugins.vendor``).
``client`` (``DaemonClient``; ``watch`` follows jobs, ``remote_media`` and ``download`` move
media), ``takes`` (the take reader), ``timecode``, ``otio_json`` (the OTIO job as plain JSON)
and ``zmq_transport`` (which needs pyzmq) are not imported here: import them by name.
"""

from __future__ import annotations

from xdub.protocol.connection import (
    ConnectionInfo,
    default_connection_path,
    find_daemon,
    is_alive,
    read_connection_file,
    remove_connection_file,
    write_connection_file,
)
from xdub.protocol.errors import ErrorCode
from xdub.protocol.messages import MESSAGE_TYPES, ErrorReply, parse_content
from xdub.protocol.records import TRANSITIONS, DubOptions, ErrorInfo, JobState, Progress, Stage
from xdub.protocol.schema import PROTOCOL_VERSION
from xdub.protocol.signing import Header, Limits, Message, RejectedMessage, Session

HOST_MODULES = (
    "schema",
    "records",
    "messages",
    "transfer_messages",
    "transfer",
    "download",
    "remote_media",
    "signing",
    "connection",
    "errors",
    "otio_json",
    "timecode",
    "takes",
    "watch",
    "client",
    "bridge_transport",
    "zmq_transport",
    "precheck",
)
"""The modules of this package that hosts' Pythons get a copy of (with this ``__init__``):
all stdlib-only except ``zmq_transport``, which ``client`` imports only where pyzmq does."""

__all__ = [
    "HOST_MODULES",
    "MESSAGE_TYPES",
    "PROTOCOL_VERSION",
    "TRANSITIONS",
    "ConnectionInfo",
    "ErrorCode",
    "ErrorInfo",
    "ErrorReply",
    "Header",
    "DubOptions",
    "JobState",
    "Limits",
    "Message",
    "Progress",
    "RejectedMessage",
    "Session",
    "Stage",
    "default_connection_path",
    "find_daemon",
    "is_alive",
    "parse_content",
    "read_connection_file",
    "remove_connection_file",
    "write_connection_file",
]
