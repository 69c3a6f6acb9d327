"""Pairing codes: a remote daemon's connection file as one line to copy (docs/daemon.md).

``xdub daemon pair`` on the GPU box encodes its connection file as ``xdub1:`` and the
URL-safe base64 (unpadded) of a compact JSON object; ``xdub connect CODE`` on the editor's
machine decodes it back into a ``ConnectionInfo`` and writes it where clients look. The code
holds the signing key, so it is as secret as the connection file. Stdlib-only.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from xdub.errors import ProtocolError
from xdub.protocol.connection import ConnectionInfo
from xdub.protocol.errors import ErrorCode

CODE_PREFIX = "xdub1:"
_FIELDS = {
    "t": "transport",
    "r": "request_address",
    "e": "event_address",
    "k": "key",
    "p": "pid",
    "v": "protocol_version",
    "x": "xdub_version",
    "rk": "request_server_key",
    "ek": "event_server_key",
}
"""Short JSON names of the ``ConnectionInfo`` fields a client needs."""


def _bad_code(message: str) -> ProtocolError:
    return ProtocolError(
        f"bad pairing code: {message}",
        code=ErrorCode.BAD_PAIRING_CODE.value,
        hint="run `xdub daemon pair` on the daemon's machine again and copy the whole line",
    )


def encode_pairing_code(info: ConnectionInfo) -> str:
    """The one-line code of a daemon listening for remote clients (``--listen``)."""
    if not info.request_server_key:
        raise ProtocolError(
            "this daemon does not listen for remote clients: its requests are not encrypted",
            code=ErrorCode.BAD_CONNECTION_FILE.value,
            hint="restart it with `xdub daemon start --listen HOST:PORT`, then pair again",
        )
    values = info.to_json()
    compact = {short: values[name] for short, name in _FIELDS.items()}
    raw = json.dumps(compact, separators=(",", ":")).encode("utf-8")
    return CODE_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_pairing_code(code: str) -> ConnectionInfo:
    """The ``ConnectionInfo`` in ``code``; raises ``bad_pairing_code`` for anything else."""
    code = code.strip()
    if not code.startswith(CODE_PREFIX):
        raise _bad_code(f"it does not start with {CODE_PREFIX!r}")
    body = code[len(CODE_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        compact: Any = json.loads(raw.decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _bad_code("it is cut short or mistyped (not base64 JSON)") from None
    if not isinstance(compact, dict) or set(compact) != set(_FIELDS):
        raise _bad_code("its fields are not those of this xdub version")
    try:
        info = ConnectionInfo.from_json({_FIELDS[short]: value for short, value in compact.items()})
    except ProtocolError as error:
        raise _bad_code(str(error)) from None
    if not info.request_server_key or not info.event_server_key:
        raise _bad_code("it lacks the daemon's encryption keys")
    return info
