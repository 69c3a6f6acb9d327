"""Talking to the daemon from Resolve's Python: pyzmq when it imports, else ``xdub bridge``.

Stdlib-only. The protocol modules come from the copy ``xdub plugins install resolve`` puts in
``_vendor/`` (see the package), or an installed ``xdub``. Without pyzmq, the daemon's own
interpreter (named by the connection file's ``python_executable``) runs ``python -m xdub
bridge``: one JSON request per line on its stdin, replies and events as JSON lines on its stdout
(docs/resolve.md).
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Protocol

CLIENT_NAME = "resolve"
CLIENT_VERSION = "0.1.0"
REQUEST_TIMEOUT_S = 30.0


class LinkError(Exception):
    """An error reply, or no daemon; ``code`` is the protocol's error code."""

    def __init__(self, code: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.hint = hint

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} ({self.hint})" if self.hint else text


class DaemonLink(Protocol):
    """What the plugin needs from a daemon connection."""

    def call(self, msg_type: str, content: dict[str, Any]) -> dict[str, Any]:
        """The ok reply's content; an error reply raises ``LinkError``."""

    def events(self, timeout_s: float) -> list[tuple[str, dict[str, Any]]]:
        """``(msg_type, content)`` of the events that arrive within ``timeout_s``."""

    def close(self) -> None: ...


def _checked(reply: dict[str, Any]) -> dict[str, Any]:
    if reply.get("status") == "error":
        error = reply.get("error") or {}
        raise LinkError(
            str(error.get("code", "internal")), str(error.get("message", "")), error.get("hint")
        )
    return reply


class ZmqLink:
    """The protocol over pyzmq, through the vendored ``ClientTransport``."""

    def __init__(self, connection_file: Path | None = None) -> None:
        from xdub.errors import XdubError
        from xdub.protocol.zmq_transport import ClientTransport

        self._errors = XdubError
        self._transport = ClientTransport(
            connection_file, client_name=CLIENT_NAME, client_version=CLIENT_VERSION
        )
        try:
            self._transport.connect()
        except XdubError as error:
            raise LinkError(error.code, error.message, error.hint) from None

    def call(self, msg_type: str, content: dict[str, Any]) -> dict[str, Any]:
        try:
            reply = self._transport.request(msg_type, content, REQUEST_TIMEOUT_S)
        except self._errors as error:
            raise LinkError(error.code, error.message, error.hint) from None
        return _checked(reply.content.to_json())

    def events(self, timeout_s: float) -> list[tuple[str, dict[str, Any]]]:
        try:
            return [
                (event.msg_type, event.content.to_json())
                for event in self._transport.events(timeout_s)
            ]
        except self._errors as error:
            raise LinkError(error.code, error.message, error.hint) from None

    def close(self) -> None:
        self._transport.close()


class BridgeLink:
    """The protocol through ``<daemon python> -m xdub bridge`` over JSON lines."""

    def __init__(self, connection_file: Path | None = None) -> None:
        from xdub.errors import XdubError
        from xdub.protocol.connection import find_daemon

        try:
            info = find_daemon(connection_file)
        except XdubError as error:
            raise LinkError(error.code, error.message, error.hint) from None
        if not info.python_executable:
            raise LinkError("bad_connection_file", "the connection file names no Python")
        command = [info.python_executable, "-m", "xdub", "bridge"]
        if connection_file is not None:
            command += ["--connection-file", str(connection_file)]
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self._lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._pending: list[tuple[str, dict[str, Any]]] = []
        self._next_id = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        ready = self._wait(lambda line: "ready" in line, REQUEST_TIMEOUT_S)
        if not ready["ready"]:
            self.close()
            _checked({"status": "error", "error": ready.get("error")})

    def _read(self) -> None:
        assert self._process.stdout is not None
        for text in self._process.stdout:
            try:
                self._lines.put(json.loads(text))
            except ValueError:
                continue  # not ours (a warning printed by a library)
        self._lines.put(None)

    def _wait(self, wanted: Any, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise LinkError(
                    "timeout", f"xdub bridge did not answer in {timeout_s:g} s"
                ) from None
            if line is None:
                raise LinkError("daemon_not_running", "xdub bridge exited", "see the daemon log")
            if wanted(line):
                return line
            if "event" in line:
                self._pending.append((str(line["event"]), dict(line.get("content") or {})))

    def call(self, msg_type: str, content: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        request_id = self._next_id
        assert self._process.stdin is not None
        self._process.stdin.write(
            json.dumps({"id": request_id, "msg_type": msg_type, "content": content}) + "\n"
        )
        self._process.stdin.flush()
        line = self._wait(lambda line: line.get("id") == request_id, REQUEST_TIMEOUT_S)
        return _checked(dict(line.get("content") or {}))

    def events(self, timeout_s: float) -> list[tuple[str, dict[str, Any]]]:
        deadline = time.monotonic() + timeout_s
        while not self._pending and time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                raise LinkError("daemon_not_running", "xdub bridge exited", "see the daemon log")
            if "event" in line:
                self._pending.append((str(line["event"]), dict(line.get("content") or {})))
        events, self._pending = self._pending, []
        return events

    def close(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._reader.join(timeout=5)
        if self._process.stdout is not None:
            self._process.stdout.close()


def open_link(connection_file: Path | None = None) -> DaemonLink:
    """A link to the running daemon: pyzmq if Resolve's Python has it, else the CLI bridge."""
    try:
        import zmq  # noqa: F401
    except ImportError:
        return BridgeLink(connection_file)
    return ZmqLink(connection_file)
