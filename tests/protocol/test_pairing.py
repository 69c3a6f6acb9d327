"""Pairing codes: a remote daemon's connection file as one line, and clear errors for bad ones."""

from __future__ import annotations

import base64
import json

import pytest
import zmq

from xdub.errors import ProtocolError
from xdub.protocol.connection import ConnectionInfo
from xdub.protocol.pairing import CODE_PREFIX, decode_pairing_code, encode_pairing_code


def _remote_info() -> ConnectionInfo:
    public = zmq.curve_keypair()[0].decode("ascii")
    return ConnectionInfo.create(
        "tcp",
        "tcp://192.168.1.20:7450",
        "tcp://192.168.1.20:7451",
        xdub_version="0.1.0",
        event_server_key=public,
        request_server_key=public,
    )


def _code_of(obj: object) -> str:
    raw = json.dumps(obj).encode()
    return CODE_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_pairing_code_is_one_line_and_round_trips() -> None:
    info = _remote_info()
    code = encode_pairing_code(info)
    assert code.startswith(CODE_PREFIX) and "\n" not in code and " " not in code
    decoded = decode_pairing_code(f"  {code}\n")  # pasted with blanks around it
    for name in ("request_address", "event_address", "key", "request_server_key", "pid"):
        assert getattr(decoded, name) == getattr(info, name), name
    assert decoded.event_server_key == info.event_server_key


def test_a_loopback_only_daemon_has_no_pairing_code() -> None:
    info = ConnectionInfo.create(
        "tcp", "tcp://127.0.0.1:5000", "tcp://127.0.0.1:5001", xdub_version="0.1.0"
    )
    with pytest.raises(ProtocolError, match="remote clients") as caught:
        encode_pairing_code(info)
    assert caught.value.code == "bad_connection_file"
    assert "--listen" in (caught.value.hint or "")


def _bad_codes() -> dict[str, str]:
    good = encode_pairing_code(_remote_info())
    compact = json.loads(base64.urlsafe_b64decode(good[len(CODE_PREFIX) :] + "=="))
    return {
        "no prefix": good[len(CODE_PREFIX) :],
        "cut short": good[: len(good) // 2],
        "mistyped": good[:-6] + "!!!!!!",
        "not an object": _code_of([1, 2]),
        "a field missing": _code_of({k: v for k, v in compact.items() if k != "rk"}),
        "a bad key": _code_of({**compact, "k": "00"}),
        "no curve keys": _code_of({**compact, "rk": "", "ek": ""}),
        "empty": "",
    }


@pytest.mark.parametrize("case", sorted(_bad_codes()))
def test_bad_codes_get_the_bad_pairing_code_error(case: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_pairing_code(_bad_codes()[case])
    assert caught.value.code == "bad_pairing_code", case
    assert "xdub daemon pair" in (caught.value.hint or "")
