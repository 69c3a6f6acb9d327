"""The daemon protocol through ``<daemon python> -m xdub bridge``, for Pythons without pyzmq.

Stdlib-only and Python 3.10-compatible (Resolve's Python gets a copy). The bridge
(``xdub/cli/bridge.py``, docs/resolve.md "The CLI bridge") relays one JSON request per line on
its stdin and writes replies and events as JSON lines on its stdout; this transport turns them
back into the protocol's records, so ``DaemonClient`` works the same over either transport.
The bridge process is started on ``connect`` with the interpreter the connection file names,
and started again by the next ``connect`` after it exited.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xdub.errors import ProtocolError
from xdub.protocol.connection import default_connection_path, find_daemon
from xdub.protocol.errors import ErrorCode
from xdub.protocol.messages import ErrorReply, HelloReply, parse_content, reply_type
from xdub.protocol.schema import Content

Line = dict[str, Any]


@dataclass(frozen=True)
class BridgeMessage:
    """An event as the bridge relays it (a signed ``Message`` without the header)."""

    msg_type: str
    content: Content


def _gone(what: str) -> ProtocolError:
    return ProtocolError(
        f"xdub bridge {what}",
        code=ErrorCode.DAEMON_NOT_RUNNING.value,
        hint="start the daemon (`xdub daemon start` or the tray app); its log says more",
    )


class BridgeTransport:
    """``ClientTransport``'s interface (connect, call, events, close) over ``xdub bridge``."""

    def __init__(
        self,
        connection_file: Path | None = None,
        *,
        client_name: str = "xdub",
        client_version: str = "",
    ) -> None:
        self.connection_file = connection_file or default_connection_path()
        self.client_name = client_name
        self.client_version = client_version
        self.daemon: HelloReply | None = None
        self._process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[Line | None] = queue.Queue()
        self._events: list[BridgeMessage] = []
        self._next_id = 0
        self._reader: threading.Thread | None = None

    def __enter__(self) -> BridgeTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def connect(self, timeout_s: float = 10.0) -> HelloReply:
        """Start the bridge with the daemon's Python and wait for its ``ready`` line."""
        self.close()
        info = find_daemon(self.connection_file)
        if not info.python_executable:
            raise ProtocolError(
                f"{self.connection_file} names no Python to run the bridge with",
                code=ErrorCode.BAD_CONNECTION_FILE.value,
                hint="install pyzmq into this Python, or restart the daemon (it names its Python)",
            )
        command = [info.python_executable, "-m", "xdub", "bridge"]
        command += ["--connection-file", str(self.connection_file)]
        command += ["--client-name", self.client_name]
        self._lines = queue.Queue()
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self._process = process
        self._reader = threading.Thread(
            target=self._read, args=(process, self._lines), name="xdub-bridge", daemon=True
        )
        self._reader.start()
        ready = self._wait(lambda line: "ready" in line, timeout_s)
        if not ready["ready"]:
            error = ready.get("error") or {}
            self.close()
            raise ErrorReply.from_json(
                {"status": "error", "error": error}, where="bridge"
            ).to_exception()
        self.daemon = HelloReply.from_json(ready.get("daemon"), where="bridge.daemon")
        return self.daemon

    @staticmethod
    def _read(process: subprocess.Popen[str], lines: queue.Queue[Line | None]) -> None:
        assert process.stdout is not None
        for text in process.stdout:
            try:
                line = json.loads(text)
            except ValueError:
                continue  # not ours (a warning a library printed)
            if isinstance(line, dict):
                lines.put(line)
        lines.put(None)

    def _wait(self, wanted: Callable[[Line], bool], timeout_s: float) -> Line:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise ProtocolError(
                    f"xdub bridge did not answer within {timeout_s:g} s",
                    code=ErrorCode.TIMEOUT.value,
                    hint="the daemon may be busy or stuck; its log is in the xdub log folder",
                ) from None
            if line is None:
                self._exited()
            elif wanted(line):
                return line
            else:
                self._keep_event(line)

    def _exited(self) -> None:
        self.close()
        raise _gone("exited (the daemon stopped?)")

    def _keep_event(self, line: Line) -> None:
        msg_type = line.get("event")
        if isinstance(msg_type, str):
            content = parse_content(msg_type, line.get("content"))
            self._events.append(BridgeMessage(msg_type, content))

    def call(self, content: Content, timeout_s: float = 10.0) -> Content:
        """Send a request and return its ok reply; an error reply is raised as its error."""
        if self._process is None or self._process.poll() is not None:
            self.connect(timeout_s)
        process = self._process
        assert process is not None and process.stdin is not None
        self._next_id += 1
        request_id = self._next_id
        line = {"id": request_id, "msg_type": content.MSG_TYPE, "content": content.to_json()}
        try:
            process.stdin.write(json.dumps(line) + "\n")
            process.stdin.flush()
        except OSError:
            self._exited()
        answer = self._wait(lambda line: line.get("id") == request_id, timeout_s)
        reply = parse_content(reply_type(content.MSG_TYPE), answer.get("content"))
        if isinstance(reply, ErrorReply):
            raise reply.to_exception()
        return reply

    def events(self, timeout_s: float) -> Iterator[BridgeMessage]:
        """The events that arrive within ``timeout_s`` (and any kept while waiting)."""
        if self._process is None:
            self.connect(timeout_s)
        deadline = time.monotonic() + timeout_s
        while not self._events and time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                self._exited()
            else:
                self._keep_event(line)
        events, self._events = self._events, []
        yield from events

    def close(self) -> None:
        """End the bridge (closing its stdin ends it) and forget the daemon."""
        process, self._process = self._process, None
        self.daemon = None
        if process is None:
            return
        if process.poll() is None:
            assert process.stdin is not None
            try:
                process.stdin.close()
                process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                process.kill()
                process.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None
        if process.stdout is not None:
            process.stdout.close()
