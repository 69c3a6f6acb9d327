"""``xdub daemon pair`` and ``xdub connect``: use a daemon on another machine (docs/daemon.md).

``pair`` runs on the GPU box beside a daemon started with ``--listen``: it prints the pairing
code (and with ``--out`` writes the client's connection file). ``connect CODE`` runs on the
editor's machine: it writes the connection file where every client looks (the CLI, the tray,
the plugins), so they all use the remote daemon; with ``--name`` a copy is kept in xdub's data
folder and ``connect NAME`` makes it the active one again (the runtime folder is emptied at
logout).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import socket
import sys
from pathlib import Path
from typing import Any

from xdub.errors import ProtocolError
from xdub.protocol.connection import (
    ConnectionInfo,
    default_connection_path,
    find_daemon,
    read_connection_file,
    write_connection_file,
)
from xdub.protocol.errors import ErrorCode
from xdub.protocol.pairing import CODE_PREFIX, decode_pairing_code, encode_pairing_code

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_WILDCARDS = ("0.0.0.0", "::")


def register(subparsers: Any) -> None:
    """Add ``connect`` to the top-level ``subparsers``."""
    connect = subparsers.add_parser("connect", help="use a daemon on another machine")
    connect.add_argument("code", help="the line `xdub daemon pair` printed, or a saved NAME")
    connect.add_argument("--name", help="also keep it as NAME (`xdub connect NAME` later)")
    connect.set_defaults(handler=run_connect)


def add_pair_command(commands: Any) -> None:
    """Add ``pair`` to the ``daemon`` subcommands."""
    pair = commands.add_parser("pair", help="print the code a remote client connects with")
    pair.add_argument("--host", help="the name or IP clients reach this machine by")
    pair.add_argument("--out", type=Path, help="also write the client's file here")
    pair.set_defaults(handler=run_pair)


def with_host(info: ConnectionInfo, host: str) -> ConnectionInfo:
    """``info`` with both addresses on ``host`` (their ports kept)."""
    shown = f"[{host}]" if ":" in host else host

    def moved(address: str) -> str:
        return f"tcp://{shown}:{address.rsplit(':', 1)[1]}"

    values = info.to_json()
    values["request_address"] = moved(info.request_address)
    values["event_address"] = moved(info.event_address)
    return ConnectionInfo.from_json(values)


def _bound_host(info: ConnectionInfo) -> str:
    return info.request_address.split("://", 1)[1].rsplit(":", 1)[0].strip("[]")


def run_pair(args: argparse.Namespace) -> int:
    """Handler of ``xdub daemon pair``."""
    info = find_daemon()
    host = args.host or _bound_host(info)
    if host in _WILDCARDS:
        host = socket.gethostname()  # bound to every interface: name this machine
    code = encode_pairing_code(with_host(info, host))
    if args.out is not None:
        write_connection_file(decode_pairing_code(code), args.out)
        print(f"wrote the client connection file {args.out} (keep it private)")
    print(code)
    return 0


def _saved_path(name: str) -> Path:
    from xdub.paths import data_dir

    if not _NAME.fullmatch(name):
        raise ProtocolError(
            f"{name!r} is not a connection name",
            code=ErrorCode.BAD_PAIRING_CODE.value,
            hint="use letters, digits, '.', '_' or '-' (e.g. gpu-box)",
        )
    return data_dir() / "connections" / f"{name}.json"


def connect(code: str, name: str | None = None) -> tuple[ConnectionInfo, Path]:
    """Make the daemon of the pairing ``code`` (or of the saved connection named ``code``) the
    one every client here uses; with ``name``, keep a copy as that name. Returns the info and
    the connection file written. What ``xdub connect`` and the tray's settings import run."""
    if code.strip().startswith(CODE_PREFIX):
        info = decode_pairing_code(code)
    else:
        saved = _saved_path(code.strip())
        if not saved.is_file():
            raise ProtocolError(
                f"{code!r} is neither a pairing code nor a saved connection ({saved})",
                code=ErrorCode.BAD_PAIRING_CODE.value,
                hint=f"paste the whole line `xdub daemon pair` printed (it starts {CODE_PREFIX})",
            )
        info = read_connection_file(saved)
    # The bridge of hosts without pyzmq (Resolve) runs this machine's xdub Python.
    info = dataclasses.replace(info, python_executable=sys.executable)
    if name:
        write_connection_file(info, _saved_path(name))
    return info, write_connection_file(info, default_connection_path())


def run_connect(args: argparse.Namespace) -> int:
    """Handler of ``xdub connect``."""
    info, path = connect(args.code, args.name)
    print(f"connected: clients on this machine now use the daemon at {info.request_address}")
    print(f"(connection file {path})")
    return 0
