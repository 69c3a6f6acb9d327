"""ZeroMQ sockets of the protocol: the daemon's bound pair, and the client's transport.

Needs only pyzmq (and the stdlib-only protocol modules). The daemon binds a ROUTER (requests)
and a PUB (events) with ``bind_server_sockets`` and then writes the connection file; a client
opens ``ClientTransport`` on that file, which re-reads it when the daemon restarts.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import zmq

from xdub.errors import ProtocolError
from xdub.protocol.connection import (
    ConnectionInfo,
    default_connection_path,
    ensure_private_dir,
    find_daemon,
    is_alive,
    runtime_dir,
)
from xdub.protocol.errors import ErrorCode
from xdub.protocol.messages import ErrorReply, Hello, HelloReply, reply_type
from xdub.protocol.schema import PROTOCOL_VERSION, Content, Event, negotiate_version
from xdub.protocol.signing import Limits, Message, RejectedMessage, Session

log = logging.getLogger(__name__)

MAX_IPC_PATH_BYTES = 100
"""Unix socket paths are limited to about 104-108 bytes depending on the OS."""


@dataclass(frozen=True)
class ServerAddresses:
    """Where the daemon's sockets listen, as ZeroMQ endpoints."""

    transport: str
    request_address: str
    event_address: str
    event_server_key: str = ""
    """tcp: the CURVE public key (Z85) clients need to read the events; see ``_curve_server``."""
    request_server_key: str = ""
    """With ``server_keys``: the CURVE public key (Z85) of the request socket too."""


@dataclass(frozen=True)
class CurveKeyPair:
    """A CURVE server key pair in Z85 text; the daemon keeps one across restarts (--listen)."""

    public: str
    secret: str

    @classmethod
    def generate(cls) -> CurveKeyPair:
        _require_curve()
        public, secret = zmq.curve_keypair()
        return cls(public.decode("ascii"), secret.decode("ascii"))


def _check_loopback(ip: str, allow_lan: bool) -> None:
    if allow_lan:
        return
    try:
        is_loopback = ipaddress.ip_address(ip).is_loopback
    except ValueError:
        is_loopback = False
    if not is_loopback:
        raise ProtocolError(
            f"refusing to bind to {ip!r}: only loopback addresses (127.0.0.1, ::1) by default",
            code=ErrorCode.NOT_LOOPBACK.value,
            hint="use the explicit LAN option (allow_lan=True) to listen on the network",
        )


def _require_curve() -> None:
    if not zmq.has("curve"):
        raise ProtocolError(
            f"this pyzmq (libzmq {zmq.zmq_version()}) has no CURVE security, which tcp events need",
            code=ErrorCode.BAD_CONNECTION_FILE.value,
            hint="install a pyzmq wheel from PyPI (they include CURVE), or use the ipc transport",
        )


def _curve_server(socket: zmq.Socket[bytes], keys: CurveKeyPair | None = None) -> str:
    """Make ``socket`` a CURVE server with ``keys`` (default: a fresh pair); returns its
    public key (Z85).

    Over tcp any local user can connect to the port: CURVE encrypts every event to clients
    that know the public key, which only the 0600 connection file holds (the handshake cannot
    even start without it), so events are as private as the request key.
    """
    keys = keys or CurveKeyPair.generate()
    socket.curve_secretkey = keys.secret.encode("ascii")
    socket.curve_publickey = keys.public.encode("ascii")
    socket.curve_server = True
    return keys.public


def set_curve_client(sub: zmq.Socket[bytes], server_key: str) -> None:
    """Make ``sub`` a CURVE client of the server with public key ``server_key`` (Z85)."""
    _require_curve()
    public, secret = zmq.curve_keypair()  # the client's own pair: fresh per connection
    sub.curve_serverkey = server_key.encode("ascii")
    sub.curve_publickey = public
    sub.curve_secretkey = secret


def _bind_tcp(
    router: zmq.Socket[bytes], pub: zmq.Socket[bytes], ip: str, port: int
) -> tuple[str, str]:
    """Bind requests on ``port`` and events on ``port + 1``; ports the OS picks for 0."""
    host = ip
    if ":" in ip:
        host = f"[{ip}]"
        for socket in (router, pub):
            socket.setsockopt(zmq.IPV6, 1)
    prefix = f"tcp://{host}"
    addresses = []
    for offset, socket in enumerate((router, pub)):
        if port:
            socket.bind(f"{prefix}:{port + offset}")
            addresses.append(f"{prefix}:{port + offset}")
        else:
            addresses.append(f"{prefix}:{socket.bind_to_random_port(prefix)}")
    return addresses[0], addresses[1]


def _bind_ipc(router: zmq.Socket[bytes], pub: zmq.Socket[bytes], ipc_dir: Path) -> tuple[str, str]:
    if sys.platform == "win32":
        raise ProtocolError("ipc sockets are not available on Windows; use tcp")
    ensure_private_dir(ipc_dir)
    stem = f"xdub-{os.getpid()}-{secrets.token_hex(4)}"
    addresses = []
    for socket, role in ((router, "requests"), (pub, "events")):
        path = ipc_dir / f"{stem}-{role}.sock"
        if len(os.fsencode(path)) > MAX_IPC_PATH_BYTES:
            raise ProtocolError(
                f"ipc path {path} is longer than {MAX_IPC_PATH_BYTES} bytes",
                hint="choose a shorter ipc folder, or use tcp",
            )
        socket.bind(f"ipc://{path}")
        addresses.append(f"ipc://{path}")
    return addresses[0], addresses[1]


def bind_server_sockets(
    context: zmq.Context[zmq.Socket[bytes]],
    transport: str = "tcp",
    *,
    ip: str = "127.0.0.1",
    ipc_dir: Path | None = None,
    allow_lan: bool = False,
    port: int = 0,
    server_keys: CurveKeyPair | None = None,
    limits: Limits | None = None,
) -> tuple[zmq.Socket[bytes], zmq.Socket[bytes], ServerAddresses]:
    """Bind the daemon's ROUTER and PUB sockets; write the connection file only after this.

    tcp binds ``ip`` on ``port`` and ``port + 1`` (0: ports the OS picks at bind time), the
    PUB socket a CURVE server (``ServerAddresses.event_server_key`` goes in the connection
    file); ipc binds in ``ipc_dir`` (default: the runtime directory). A non-loopback ``ip``
    needs ``allow_lan=True``.

    ``server_keys`` (tcp, a daemon for remote clients) makes the ROUTER a CURVE server too,
    and both sockets use that one pair: both serve the same clients, who get both public keys
    from the same pairing code, and both secrets live in the same process and key file, so
    a second pair would add length to the code and no protection.
    """
    limits = limits or Limits()
    if transport == "tcp":
        _check_loopback(ip, allow_lan)
    elif transport != "ipc":
        raise ProtocolError(f"transport {transport!r} is not 'tcp' or 'ipc'")
    router = context.socket(zmq.ROUTER)
    pub = context.socket(zmq.PUB)
    try:
        router.setsockopt(zmq.MAXMSGSIZE, limits.max_frame_bytes)
        router.setsockopt(zmq.LINGER, 0)
        pub.setsockopt(zmq.LINGER, 1000)
        event_server_key = request_server_key = ""
        if transport == "tcp":
            event_server_key = _curve_server(pub, server_keys)
            if server_keys is not None:
                request_server_key = _curve_server(router, server_keys)
            request_address, event_address = _bind_tcp(router, pub, ip, port)
        else:
            request_address, event_address = _bind_ipc(router, pub, ipc_dir or runtime_dir())
    except BaseException:
        router.close(linger=0)
        pub.close(linger=0)
        raise
    log.info("listening for requests on %s, events on %s", request_address, event_address)
    addresses = ServerAddresses(
        transport, request_address, event_address, event_server_key, request_server_key
    )
    return router, pub, addresses


def remove_ipc_files(addresses: ServerAddresses) -> None:
    """Remove the socket files of ipc ``addresses`` (ZeroMQ leaves them); call after closing."""
    for address in (addresses.request_address, addresses.event_address):
        if address.startswith("ipc://"):
            Path(address[len("ipc://") :]).unlink(missing_ok=True)


def publish(pub: zmq.Socket[bytes], session: Session, event: Event) -> None:
    """Send ``event`` on the daemon's PUB socket, its ``msg_type`` as the topic frame."""
    topic = event.MSG_TYPE.encode("ascii")
    pub.send_multipart(session.serialize(event.MSG_TYPE, event, identities=[topic]))


def _file_stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size


_HANDSHAKE_FAILED = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)


class HandshakeWatch:
    """ZeroMQ's monitor events of a CURVE client socket: a failed handshake (a wrong or stale
    server key) is told apart from a daemon that does not answer."""

    def __init__(self, socket: zmq.Socket[bytes]) -> None:
        self.monitor = socket.get_monitor_socket(_HANDSHAKE_FAILED | zmq.EVENT_HANDSHAKE_SUCCEEDED)

    def check(self) -> None:
        """Raise ``handshake_failed`` if the last handshake the socket tried failed."""
        failed = False
        while self.monitor.poll(0):
            event = self.monitor.recv_multipart()[0]
            failed = int.from_bytes(event[:2], "little") & _HANDSHAKE_FAILED != 0
        if failed:
            raise ProtocolError(
                "the daemon refused the encrypted handshake: this connection file does not "
                "hold its current key",
                code=ErrorCode.HANDSHAKE_FAILED.value,
                hint="run `xdub daemon pair` on the daemon's machine and `xdub connect CODE` "
                "here again (the pairing is stale or for another daemon)",
            )

    def close(self) -> None:
        self.monitor.close(linger=0)


class ClientTransport:
    """A client's DEALER (requests) and SUB (events) to the daemon named by a connection file.

    It connects lazily, says ``hello`` on every (re)connect, and re-reads the file whenever it
    changed, so a daemon restarted with new ports and a new key is picked up. Use it from one
    thread. ``daemon`` holds the last ``hello`` reply.
    """

    def __init__(
        self,
        connection_file: Path | None = None,
        *,
        client_name: str = "xdub",
        client_version: str = "",
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.connection_file = connection_file or default_connection_path()
        self.client_name = client_name
        self.client_version = client_version
        self.limits = limits or Limits()
        self._context = context or zmq.Context.instance()
        self._info: ConnectionInfo | None = None
        self._stamp: tuple[int, int, int] | None = None
        self._session: Session | None = None
        self._dealer: zmq.Socket[bytes] | None = None
        self._sub: zmq.Socket[bytes] | None = None
        self._handshake: HandshakeWatch | None = None
        self.daemon: HelloReply | None = None

    def __enter__(self) -> ClientTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the sockets (pending requests are dropped)."""
        if self._handshake is not None:
            self._handshake.close()
        for socket in (self._dealer, self._sub):
            if socket is not None:
                socket.close(linger=0)
        self._dealer = self._sub = self._session = self._info = self._handshake = None
        self.daemon = None

    def connect(self, timeout_s: float = 10.0) -> HelloReply:
        """Read the connection file, open the sockets and say hello; raises if not running."""
        self.close()
        self._stamp = _file_stamp(self.connection_file)
        info = find_daemon(self.connection_file)
        self._info = info
        self._session = Session(info.key_bytes, limits=self.limits)
        self._dealer = self._context.socket(zmq.DEALER)
        self._dealer.setsockopt(zmq.LINGER, 0)
        self._dealer.setsockopt(zmq.MAXMSGSIZE, self.limits.max_frame_bytes)
        if info.request_server_key:
            set_curve_client(self._dealer, info.request_server_key)
            self._handshake = HandshakeWatch(self._dealer)
        self._dealer.connect(info.request_address)
        self._sub = self._context.socket(zmq.SUB)
        self._sub.setsockopt(zmq.LINGER, 0)
        self._sub.setsockopt(zmq.MAXMSGSIZE, self.limits.max_frame_bytes)
        self._sub.setsockopt(zmq.SUBSCRIBE, b"")
        if info.event_server_key:
            set_curve_client(self._sub, info.event_server_key)
        self._sub.connect(info.event_address)
        hello = Hello(PROTOCOL_VERSION, self.client_name, self.client_version)
        try:
            reply = self._exchange(Hello.MSG_TYPE, hello, timeout_s).content
        except BaseException:
            self.close()
            raise
        if isinstance(reply, ErrorReply):
            self.close()
            raise reply.to_exception()
        welcome = cast(HelloReply, reply)  # _exchange checked that it is a hello_reply
        self._session.protocol_version = negotiate_version(welcome.protocol_version)
        self.daemon = welcome
        log.info("connected to xdub %s (pid %d)", welcome.xdub_version, welcome.pid)
        return welcome

    def _ensure_connected(self, timeout_s: float) -> None:
        if self._session is None or _file_stamp(self.connection_file) != self._stamp:
            self.connect(timeout_s)

    def request(
        self, msg_type: str, content: Content | Mapping[str, Any], timeout_s: float = 10.0
    ) -> Message:
        """Send a request and wait for its reply (an ok reply or an ``ErrorReply``).

        If no reply comes in ``timeout_s`` and the connection file changed meanwhile (the
        daemon restarted), the request is sent once more to the new daemon. Raises
        ``daemon_not_running`` or ``timeout``.
        """
        self._ensure_connected(timeout_s)
        try:
            return self._exchange(msg_type, content, timeout_s)
        except ProtocolError as error:
            if error.code != ErrorCode.TIMEOUT.value:
                raise
            if _file_stamp(self.connection_file) == self._stamp:
                if self._info is not None and not is_alive(self._info):
                    find_daemon(self.connection_file)  # raises daemon_not_running
                raise
        log.info("the connection file changed during %s; resending to the new daemon", msg_type)
        self.connect(timeout_s)
        return self._exchange(msg_type, content, timeout_s)

    def call(self, content: Content, timeout_s: float = 10.0) -> Content:
        """``request`` for a request object; an error reply is raised as its ``XdubError``."""
        reply = self.request(content.MSG_TYPE, content, timeout_s).content
        if isinstance(reply, ErrorReply):
            raise reply.to_exception()
        return reply

    def _sockets(self) -> tuple[Session, zmq.Socket[bytes], zmq.Socket[bytes]]:
        if self._session is None or self._dealer is None or self._sub is None:
            raise ProtocolError("the transport is closed", code=ErrorCode.BAD_MESSAGE.value)
        return self._session, self._dealer, self._sub

    def _exchange(
        self, msg_type: str, content: Content | Mapping[str, Any], timeout_s: float
    ) -> Message:
        session, dealer, _ = self._sockets()
        header = session.header(msg_type)
        dealer.send_multipart(session.serialize(msg_type, content, header=header))
        expected = reply_type(msg_type)
        deadline = time.monotonic() + timeout_s
        while True:
            remaining_ms = (deadline - time.monotonic()) * 1000.0
            if remaining_ms > 0 and not self._poll(dealer, remaining_ms):
                continue
            if remaining_ms <= 0 or not dealer.poll(0):
                raise ProtocolError(
                    f"the daemon did not answer {msg_type!r} within {timeout_s:g} s",
                    code=ErrorCode.TIMEOUT.value,
                    hint=self._timeout_hint(),
                )
            try:
                reply = session.deserialize(dealer.recv_multipart())
            except RejectedMessage:
                continue  # logged by the session; never trusted
            parent = reply.parent_header
            if parent is None or parent.msg_id != header.msg_id:
                log.debug("skipping a late reply %s", reply.msg_type)
                continue
            if reply.msg_type != expected:
                raise ProtocolError(
                    f"the daemon answered {msg_type!r} with {reply.msg_type!r}",
                    code=ErrorCode.BAD_MESSAGE.value,
                )
            return reply

    def _poll(self, dealer: zmq.Socket[bytes], timeout_ms: float) -> bool:
        """Wait up to ``timeout_ms`` (in slices, watching the CURVE handshake) for a reply."""
        if self._handshake is None:
            return bool(dealer.poll(max(1, int(timeout_ms))))
        ready = dealer.poll(max(1, int(min(timeout_ms, 100.0))))
        if not ready:
            self._handshake.check()
        return bool(ready)

    def _timeout_hint(self) -> str:
        if self._info is not None and self._info.request_server_key:
            return (
                "a remote daemon refuses a client whose pairing code is stale (its keys or"
                " port changed): run `xdub daemon pair` there and `xdub connect` here again;"
                " else it is unreachable, busy or stuck (its log is on its machine)"
            )
        return "it may be busy or stuck; its log is in the xdub log folder"

    def events(self, timeout_s: float) -> Iterator[Message]:
        """Yield events as they arrive until ``timeout_s`` has passed since the call.

        Follows a restarted daemon like ``request``; raises ``daemon_not_running`` if it is gone.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            self._ensure_connected(max(0.1, deadline - time.monotonic()))
            session, _, sub = self._sockets()
            remaining_ms = (deadline - time.monotonic()) * 1000.0
            if remaining_ms <= 0 or not sub.poll(max(1, int(remaining_ms))):
                return
            try:
                event = session.deserialize(sub.recv_multipart())
            except RejectedMessage:
                continue  # logged by the session; never trusted
            yield event
