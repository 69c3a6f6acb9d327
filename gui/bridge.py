"""The one thread that talks to the daemon, and the Qt signals that carry what it hears.

ZeroMQ sockets belong to one thread, so ``ClientBridge`` runs a worker on a ``QThread`` that
owns the ``DaemonClient`` (the one client of the CLI and the plugins too): it sends the requests
the GUI queued, yields the daemon's events, notices a dead or restarted daemon (the connection
file changed, or its pid died) and reconnects. Widgets
never block on the network; they get replies and events as signals in the GUI thread.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from xdub.client import DaemonClient
from xdub.errors import XdubError
from xdub.protocol.connection import default_connection_path
from xdub.protocol.messages import HelloReply
from xdub.protocol.schema import Content
from xdub.protocol.watch import RECONNECT_CODES

log = logging.getLogger(__name__)

TRAY_NAME = "xdub-tray"

ReplyHandler = Callable[[Content], None]
ErrorHandler = Callable[[XdubError], None]


MakeClient = Callable[[], DaemonClient]


@dataclass(frozen=True)
class BridgeTiming:
    """How often the worker looks: event poll slice, reconnect back-off, liveness checks (s)."""

    poll_s: float = 0.05
    retry_s: float = 0.5
    liveness_s: float = 0.5
    connect_timeout_s: float = 3.0
    request_timeout_s: float = 10.0


@dataclass(frozen=True)
class _Request:
    ticket: int
    content: Content
    timeout_s: float


class _Worker(QObject):
    """Lives on the bridge's thread; only ``run`` and the thread-safe queue touch it."""

    connected = Signal(object)  # HelloReply
    disconnected = Signal(str)  # why, for the status line
    event_received = Signal(object)  # an Event's content
    replied = Signal(int, object)  # ticket, the reply's content
    failed = Signal(int, object)  # ticket, the XdubError

    def __init__(self, make_client: MakeClient, timing: BridgeTiming) -> None:
        super().__init__()
        self._make_client = make_client
        self._timing = timing
        self.requests: queue.Queue[_Request] = queue.Queue()
        self.stop = threading.Event()

    @Slot()
    def run(self) -> None:
        client: DaemonClient | None = None
        hello: HelloReply | None = None
        last_reason: str | None = None
        while not self.stop.is_set():
            if client is None:
                client, hello, last_reason = self._try_connect(last_reason)
                if client is None:
                    self._fail_pending("daemon not running")
                    self.stop.wait(self._timing.retry_s)
                continue
            try:
                self._serve(client)
            except XdubError as error:
                client.close()
                client, hello = None, None
                last_reason = error.message
                self.disconnected.emit(last_reason)
                continue
            if client.daemon is not hello and client.daemon is not None:
                hello = client.daemon  # the client followed a restarted daemon
                self.connected.emit(hello)
        if client is not None:
            client.close()

    def _try_connect(
        self, last_reason: str | None
    ) -> tuple[DaemonClient | None, HelloReply | None, str | None]:
        client = self._make_client()
        try:
            hello = client.hello(self._timing.connect_timeout_s)
        except XdubError as error:
            client.close()
            if error.message != last_reason:
                self.disconnected.emit(error.message)
            return None, None, error.message
        self.connected.emit(hello)
        return client, hello, None

    def _serve(self, client: DaemonClient) -> None:
        """One round: pending requests, then events for up to ``liveness_s``, then liveness."""
        while True:
            try:
                request = self.requests.get_nowait()
            except queue.Empty:
                break
            try:
                reply = client.call(request.content, request.timeout_s)
            except XdubError as error:
                self.failed.emit(request.ticket, error)
                if error.code in RECONNECT_CODES:
                    raise
                continue
            self.replied.emit(request.ticket, reply)
        for _ in range(int(self._timing.liveness_s / self._timing.poll_s)):
            if self.stop.is_set() or not self.requests.empty():
                return
            for message in client.events(self._timing.poll_s):
                self.event_received.emit(message.content)
        client.check_alive()  # raises daemon_not_running after a kill -9

    def _fail_pending(self, reason: str) -> None:
        while True:
            try:
                request = self.requests.get_nowait()
            except queue.Empty:
                return
            error = XdubError(reason, code=RECONNECT_CODES[0], hint="start the daemon")
            self.failed.emit(request.ticket, error)


class ClientBridge(QObject):
    """The GUI's handle on the daemon: queue requests, receive replies and events as signals.

    ``request(content, on_reply, on_error)`` returns at once; the handlers run in the GUI thread.
    ``is_connected``/``hello`` describe the last known daemon. ``make_client`` (default: the
    tray's ``DaemonClient`` of ``connection_file``) is called on the worker thread at each
    (re)connect.
    """

    connected = Signal(object)  # HelloReply
    disconnected = Signal(str)
    event_received = Signal(object)

    def __init__(
        self,
        make_client: MakeClient | None = None,
        *,
        connection_file: Path | None = None,
        timing: BridgeTiming | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.timing = timing or BridgeTiming()
        self.connection_file = connection_file or default_connection_path()
        self.hello: HelloReply | None = None
        self.last_error: str | None = None
        self._tickets = itertools.count(1)
        self._handlers: dict[int, tuple[ReplyHandler | None, ErrorHandler | None]] = {}
        self._thread = QThread()
        self._thread.setObjectName("xdub-client")
        connection_file = self.connection_file
        self._worker = _Worker(
            make_client or (lambda: DaemonClient(connection_file, client_name=TRAY_NAME)),
            self.timing,
        )
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.connected.connect(self._on_connected)
        self._worker.disconnected.connect(self._on_disconnected)
        self._worker.event_received.connect(self.event_received)
        self._worker.replied.connect(self._on_replied)
        self._worker.failed.connect(self._on_failed)

    @property
    def is_connected(self) -> bool:
        return self.hello is not None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the worker and close the sockets (pending requests are dropped)."""
        self._worker.stop.set()
        self._thread.quit()
        self._thread.wait(int(timeout_s * 1000))

    def request(
        self,
        content: Content,
        on_reply: ReplyHandler | None = None,
        on_error: ErrorHandler | None = None,
        *,
        timeout_s: float | None = None,
    ) -> int:
        """Queue ``content`` for the daemon; returns a ticket. Handlers run in the GUI thread."""
        ticket = next(self._tickets)
        self._handlers[ticket] = (on_reply, on_error)
        self._worker.requests.put(
            _Request(ticket, content, timeout_s or self.timing.request_timeout_s)
        )
        return ticket

    @Slot(object)
    def _on_connected(self, hello: HelloReply) -> None:
        self.hello, self.last_error = hello, None
        self.connected.emit(hello)

    @Slot(str)
    def _on_disconnected(self, reason: str) -> None:
        self.hello, self.last_error = None, reason
        self.disconnected.emit(reason)

    @Slot(int, object)
    def _on_replied(self, ticket: int, reply: Content) -> None:
        on_reply, _ = self._handlers.pop(ticket, (None, None))
        if on_reply is not None:
            on_reply(reply)

    @Slot(int, object)
    def _on_failed(self, ticket: int, error: XdubError) -> None:
        _, on_error = self._handlers.pop(ticket, (None, None))
        if on_error is not None:
            on_error(error)
        else:
            log.warning("request %d failed: %s", ticket, error.message)
