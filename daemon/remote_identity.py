"""The keys of a daemon for remote clients, kept across restarts so a pairing stays valid.

A loopback daemon makes a fresh signing key and CURVE pair on every start (its clients reread
the connection file). A daemon started with ``--listen`` serves machines that only have the
pairing code, so its signing key and CURVE pair live in a 0600 file in the data folder;
delete the file to revoke every paired client (the next start makes new keys).
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from xdub.errors import ProtocolError
from xdub.protocol.connection import read_private_json, write_private_json
from xdub.protocol.errors import ErrorCode
from xdub.protocol.zmq_transport import CurveKeyPair

log = logging.getLogger(__name__)

_HEX_KEY = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class RemoteIdentity:
    """The signing key (64 hex characters) and the CURVE server pair of the daemon."""

    key: str
    curve: CurveKeyPair


def load_or_create_identity(path: Path) -> RemoteIdentity:
    """The identity stored at ``path``; a new one is made and stored when there is none."""
    try:
        obj = read_private_json(path)
    except FileNotFoundError:
        identity = RemoteIdentity(secrets.token_hex(32), CurveKeyPair.generate())
        write_private_json(
            {
                "key": identity.key,
                "curve_public": identity.curve.public,
                "curve_secret": identity.curve.secret,
            },
            path,
        )
        log.info("made new keys for remote clients in %s", path)
        return identity
    try:
        identity = RemoteIdentity(
            str(obj["key"]), CurveKeyPair(str(obj["curve_public"]), str(obj["curve_secret"]))
        )
    except (KeyError, TypeError):
        identity = RemoteIdentity("", CurveKeyPair("", ""))
    if not _HEX_KEY.fullmatch(identity.key) or len(identity.curve.secret) != 40:
        raise ProtocolError(
            f"{path}: the remote keys file is damaged",
            code=ErrorCode.BAD_CONNECTION_FILE.value,
            hint="delete it and start the daemon again, then pair every client again",
        )
    return identity
