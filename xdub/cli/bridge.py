"""``xdub bridge``: the daemon protocol as JSON lines on stdin/stdout, for hosts without pyzmq.

Resolve's Python may lack pyzmq; its script then runs ``<daemon python> -m xdub bridge`` and
talks through pipes (docs/resolve.md, "The CLI bridge"):

- first line out: ``{"ready": true, "daemon": <hello_reply>}`` or
  ``{"ready": false, "error": {"code", "message", "hint"}}`` (then the bridge exits 1);
- each line in: ``{"id": ID, "msg_type": "submit", "content": {...}}``;
- its answer: ``{"id": ID, "msg_type": "submit_reply", "content": {"status": ...}}``; a line
  that is not a request gets an ``internal``/``bad_content`` error reply with ``"id": null``;
- events as they arrive: ``{"event": "progress", "content": {...}}``.

End of input ends the bridge (exit 0).
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import threading
from pathlib import Path
from typing import IO, Any

from xdub import __version__
from xdub.errors import XdubError

EVENT_POLL_S = 0.1
"""The longest an event waits in the bridge while no request comes."""
EVENT_DRAIN_S = 0.001
"""How long the bridge looks for events after a request (it takes in those that came)."""
REQUEST_TIMEOUT_S = 30.0


def register(subparsers: Any) -> None:
    """Add the ``bridge`` command to the top-level ``subparsers``."""
    parser = subparsers.add_parser(
        "bridge",
        help="relay daemon requests as JSON lines on stdin/stdout (for host scripts)",
        description="Read one JSON request per line on stdin; write replies and events as "
        "JSON lines on stdout. See docs/resolve.md.",
    )
    parser.add_argument("--connection-file", type=Path, help="default: the daemon's usual file")
    parser.add_argument("--client-name", default="bridge", help="the name sent in hello")
    parser.set_defaults(handler=run_bridge)


def _error(code: str, message: str, hint: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "hint": hint}


def _write(stream: IO[str], obj: dict[str, Any]) -> None:
    stream.write(json.dumps(obj, allow_nan=False) + "\n")
    stream.flush()


def _read_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for text in stream:
        if text.strip():
            lines.put(text)
    lines.put(None)


def relay(transport: Any, stdin: IO[str], stdout: IO[str]) -> int:
    """Relay requests from ``stdin`` through ``transport`` until end of input.

    It waits on the requests (each is answered as it arrives: a chunked transfer is one
    request after another) and passes on the events that came meanwhile after each request,
    or after ``EVENT_POLL_S`` without one."""
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_read_lines, args=(stdin, lines), daemon=True).start()
    while True:
        try:
            text = lines.get(timeout=EVENT_POLL_S)
        except queue.Empty:
            text = ""
        if text is None:
            return 0
        if text:
            _write(stdout, _answer(transport, text))
        for event in transport.events(EVENT_DRAIN_S):
            _write(stdout, {"event": event.msg_type, "content": event.content.to_json()})


def _answer(transport: Any, text: str) -> dict[str, Any]:
    try:
        request = json.loads(text)
        if not isinstance(request, dict) or not isinstance(request.get("msg_type"), str):
            raise ValueError("a request is {id, msg_type, content}")
    except ValueError as error:
        return {
            "id": None,
            "content": {"status": "error", "error": _error("bad_content", str(error))},
        }
    msg_type, request_id = request["msg_type"], request.get("id")
    try:
        reply = transport.request(msg_type, request.get("content") or {}, REQUEST_TIMEOUT_S)
    except XdubError as error:
        content = {"status": "error", "error": _error(error.code, error.message, error.hint)}
        return {"id": request_id, "msg_type": f"{msg_type}_reply", "content": content}
    return {"id": request_id, "msg_type": reply.msg_type, "content": reply.content.to_json()}


def run_bridge(args: argparse.Namespace) -> int:
    """Handler of ``xdub bridge``."""
    from xdub.protocol.zmq_transport import ClientTransport

    stdout = sys.stdout
    with ClientTransport(
        args.connection_file, client_name=args.client_name, client_version=__version__
    ) as transport:
        try:
            hello = transport.connect()
        except XdubError as error:
            _write(stdout, {"ready": False, "error": _error(error.code, error.message, error.hint)})
            return 1
        _write(stdout, {"ready": True, "daemon": hello.to_json()})
        return relay(transport, sys.stdin, stdout)
