"""The Python half of the Lua launcher (free Resolve 21.1+ lists only Lua scripts).

Stdlib-only. On free 21.1+ no Python process can get a Resolve handle (external scripting is
Studio-only), so the Lua launcher starts this helper and serves Resolve's API to it: the helper
writes one JSON request per line on its stdout, Lua makes the call inside Resolve and writes the
answer to ``<reply dir>/<id>.json`` (a temporary name, then renamed). ``RemoteObject`` makes a Lua
object look like a Python binding object, so the same ``dub_clip``/``collect`` code runs.

Requests: ``{"op": "call", "id", "obj", "method", "args"}``, ``{"op": "probe", "id", "obj",
"names"}`` (which of ``names`` the object has: Lua's stand-in for ``dir()``), and the one-way
``{"op": "hello", "reply_dir"}``, ``{"op": "print", "text"}``, ``{"op": "exit", "code"}``.
Objects travel as ``{"$obj": id}``; id 0 is ``resolve``.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from xdub_resolve.host import PROBED_METHODS, HostError

REPLY_TIMEOUT_S = 120.0
POLL_S = 0.001
OBJECT_KEY = "$obj"


class LuaChannel:
    """Requests to the Lua launcher on ``out``; its answers as files in ``reply_dir``."""

    def __init__(self, out: IO[str], reply_dir: Path) -> None:
        self.out = out
        self.reply_dir = reply_dir
        self._next_id = 0

    def send(self, message: dict[str, Any]) -> None:
        self.out.write(json.dumps(message) + "\n")
        self.out.flush()

    def request(self, message: dict[str, Any]) -> Any:
        self._next_id += 1
        self.send({**message, "id": self._next_id})
        path = self.reply_dir / f"{self._next_id}.json"
        deadline = time.monotonic() + REPLY_TIMEOUT_S
        while not path.exists():
            if time.monotonic() > deadline:
                raise HostError(f"the Lua launcher did not answer {message.get('method')!r}")
            time.sleep(POLL_S)
        reply = json.loads(path.read_text(encoding="utf-8"))
        path.unlink()
        if "error" in reply:
            raise HostError(f"Resolve (through Lua): {reply['error']}")
        return self.decode(reply.get("result"))

    def encode(self, value: Any) -> Any:
        if isinstance(value, RemoteObject):
            return {OBJECT_KEY: value._oid}
        if isinstance(value, (list, tuple)):
            return [self.encode(item) for item in value]
        if isinstance(value, dict):
            return {str(key): self.encode(item) for key, item in value.items()}
        return value

    def decode(self, value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {OBJECT_KEY}:
                return RemoteObject(self, int(value[OBJECT_KEY]))
            return {key: self.decode(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.decode(item) for item in value]
        return value


class RemoteObject:
    """A Resolve object living in the Lua launcher; every attribute is a remote method."""

    def __init__(self, channel: LuaChannel, oid: int) -> None:
        self._channel = channel
        self._oid = oid
        self._names: list[str] | None = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args: Any) -> Any:
            message = {"op": "call", "obj": self._oid, "method": name}
            return self._channel.request({**message, "args": self._channel.encode(list(args))})

        return call

    def __dir__(self) -> list[str]:
        if self._names is None:
            probe = {"op": "probe", "obj": self._oid, "names": list(PROBED_METHODS)}
            self._names = list(self._channel.request(probe) or [])
        return list(self._names)


def main(argv: list[str]) -> int:
    """``python xdub_lua_host.py dub|collect``: run a command for the Lua launcher."""
    from xdub_resolve import collect, dub_clip

    commands = {"dub": dub_clip.run, "collect": collect.run}
    if len(argv) != 1 or argv[0] not in commands:
        print(f"usage: xdub_lua_host.py {'|'.join(commands)}", file=sys.stderr)
        return 2
    reply_dir = Path(tempfile.mkdtemp(prefix="xdub-lua-"))
    channel = LuaChannel(sys.stdout, reply_dir)
    code = 1
    try:
        channel.send({"op": "hello", "reply_dir": str(reply_dir)})

        def write(text: str) -> None:
            channel.send({"op": "print", "text": text})

        code = commands[argv[0]]({"resolve": RemoteObject(channel, 0)}, write=write)
    finally:
        channel.send({"op": "exit", "code": code})
        shutil.rmtree(reply_dir, ignore_errors=True)
    return code
