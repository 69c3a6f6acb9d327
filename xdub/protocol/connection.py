"""The daemon's connection file: where it listens and the key (docs/protocol.md).

Stdlib-only and Python 3.10-compatible: hosts' Pythons get a copy of this module. platformdirs
is used when it imports; otherwise ``_stdlib_runtime_dir`` names the same folder, so a host
without it finds the file the daemon wrote.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import secrets
import stat
import sys
import tempfile
import warnings
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any

from xdub.errors import ProtocolError
from xdub.protocol.errors import ErrorCode
from xdub.protocol.schema import PROTOCOL_VERSION, parse_version
from xdub.protocol.signing import SIGNATURE_SCHEME

log = logging.getLogger(__name__)

APP_NAME = "xdub"
CONNECTION_FILE_NAME = "daemon.json"
CONNECTION_FILE_ENV = "XDUB_CONNECTION_FILE"
"""An environment variable naming the connection file; it overrides the default path."""
FILE_MODE = 0o600
DIR_MODE = 0o700
TRANSPORTS = ("tcp", "ipc")
_KEY = re.compile(r"[0-9a-f]{64}")
_CURVE_KEY = re.compile(r"[0-9A-Za-z.:+=^!/*?&<>()\[\]{}@%$#-]{40}")
"""A CURVE key in Z85 text (32 bytes as 40 characters)."""
_IS_POSIX = os.name == "posix"


def _bad_file(message: str, path: Path | None = None) -> ProtocolError:
    where = f"{path}: " if path else ""
    return ProtocolError(
        where + message,
        code=ErrorCode.BAD_CONNECTION_FILE.value,
        hint="stop the daemon and start it again; it writes a fresh connection file",
    )


@dataclass(frozen=True)
class ConnectionInfo:
    """The contents of the connection file. ``key`` is 64 hex characters (256 bits)."""

    transport: str
    request_address: str
    event_address: str
    key: str
    pid: int
    protocol_version: str = PROTOCOL_VERSION
    xdub_version: str = ""
    python_executable: str = ""
    signature_scheme: str = SIGNATURE_SCHEME
    event_server_key: str = ""
    """tcp: the Z85 CURVE public key of the event socket, which only encrypts to clients
    that know it; empty for ipc (the 0700 folder keeps others out) and older daemons."""
    request_server_key: str = ""
    """A daemon started with ``--listen``: the Z85 CURVE public key of the request socket
    (then requests and replies are encrypted too); empty for a loopback-only daemon."""

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name != "pid" and not isinstance(value, str):
                raise _bad_file(f"{item.name} {value!r} is not a string")
        if self.transport not in TRANSPORTS:
            raise _bad_file(f"transport {self.transport!r} is not one of {TRANSPORTS}")
        for name in ("request_address", "event_address"):
            if not getattr(self, name).startswith(f"{self.transport}://"):
                raise _bad_file(f"{name} {getattr(self, name)!r} is not a {self.transport} address")
        if not _KEY.fullmatch(self.key):
            raise _bad_file("key is not 64 lowercase hex characters")
        for name in ("event_server_key", "request_server_key"):
            if getattr(self, name) and not _CURVE_KEY.fullmatch(getattr(self, name)):
                raise _bad_file(f"{name} is not a 40-character Z85 CURVE key")
        if self.signature_scheme != SIGNATURE_SCHEME:
            raise _bad_file(f"signature_scheme {self.signature_scheme!r} is not {SIGNATURE_SCHEME}")
        if not isinstance(self.pid, int) or isinstance(self.pid, bool) or self.pid <= 0:
            raise _bad_file(f"pid {self.pid!r} is not a process id")
        parse_version(self.protocol_version)

    @classmethod
    def create(
        cls,
        transport: str,
        request_address: str,
        event_address: str,
        *,
        xdub_version: str,
        event_server_key: str = "",
        request_server_key: str = "",
        key: str = "",
    ) -> ConnectionInfo:
        """The info of this process with ``key`` (default: a fresh random 256-bit key)."""
        return cls(
            event_server_key=event_server_key,
            request_server_key=request_server_key,
            transport=transport,
            request_address=request_address,
            event_address=event_address,
            key=key or secrets.token_hex(32),
            pid=os.getpid(),
            xdub_version=xdub_version,
            python_executable=sys.executable,
        )

    @property
    def key_bytes(self) -> bytes:
        """The HMAC key, 32 bytes."""
        return bytes.fromhex(self.key)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: Any) -> ConnectionInfo:
        """Validate a decoded connection file; unknown keys are ignored (newer versions)."""
        if not isinstance(obj, dict):
            raise _bad_file("not a JSON object")
        missing = [
            item.name for item in fields(cls) if item.default is MISSING and item.name not in obj
        ]
        if missing:
            raise _bad_file(f"lacks {', '.join(missing)}")
        return cls(**{item.name: obj[item.name] for item in fields(cls) if item.name in obj})


# ---------------------------------------------------------------------------------------------
# Where the file lives


def default_connection_path() -> Path:
    """``$XDUB_CONNECTION_FILE``, else ``daemon.json`` in the per-user runtime directory."""
    override = os.environ.get(CONNECTION_FILE_ENV)
    if override:
        return Path(override)
    return runtime_dir() / CONNECTION_FILE_NAME


def runtime_dir() -> Path:
    """The per-user runtime directory of xdub (``platformdirs.user_runtime_dir("xdub")``)."""
    try:
        import platformdirs
    except ImportError:
        return _stdlib_runtime_dir()
    with warnings.catch_warnings():
        # Without $XDG_RUNTIME_DIR platformdirs warns and uses a private temp folder, as we want.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"platformdirs(\.|$)")
        return Path(platformdirs.user_runtime_dir(APP_NAME, appauthor=False))


def _stdlib_runtime_dir() -> Path:
    """What platformdirs names, for Pythons without it (Resolve's, Blender's)."""
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(local) / "Temp" / APP_NAME
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "TemporaryItems" / APP_NAME
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if os.path.isabs(xdg) and _is_private_dir(Path(xdg)):
        return Path(xdg) / APP_NAME
    run_user = Path(f"/run/user/{os.geteuid()}")
    if _is_private_dir(run_user):
        return run_user / APP_NAME
    return Path(tempfile.gettempdir()) / f"runtime-{os.geteuid()}" / APP_NAME


def _is_private_dir(path: Path) -> bool:
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.geteuid()
        and stat.S_IMODE(info.st_mode) == DIR_MODE
    )


# ---------------------------------------------------------------------------------------------
# Writing, reading, removing


def ensure_private_dir(directory: Path) -> None:
    """Create ``directory`` with mode 0700; refuse one that others can write or that is a link."""
    directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if not _IS_POSIX:
        return  # Windows: the per-user LocalAppData ACL keeps other users out.
    info = os.lstat(directory)
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.geteuid():
        raise _bad_file("the folder is a symlink or belongs to another user", directory)
    if stat.S_IMODE(info.st_mode) & 0o022:
        raise _bad_file("the folder is writable by other users; chmod 700 it", directory)


def _check_private_file(fd: int, path: Path) -> None:
    if not _IS_POSIX:
        return
    info = os.fstat(fd)
    if info.st_uid != os.geteuid() or stat.S_IMODE(info.st_mode) & 0o077:
        raise _bad_file(
            f"mode {stat.S_IMODE(info.st_mode):04o} lets other users read the key", path
        )


def write_connection_file(info: ConnectionInfo, path: Path | None = None) -> Path:
    """Write ``info`` atomically with mode 0600 (temp file, then ``os.replace``); returns the path.

    Call it only once the sockets are bound.
    """
    path = write_private_json(info.to_json(), path or default_connection_path())
    log.info("wrote the connection file %s", path)
    return path


def write_private_json(obj: Any, path: Path) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically, mode 0600, in a 0700 folder."""
    ensure_private_dir(path.parent)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(temp, flags | getattr(os, "O_BINARY", 0), FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as stream:
            _check_private_file(stream.fileno(), temp)
            stream.write(json.dumps(obj, indent=2).encode() + b"\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def read_private_json(path: Path) -> Any:
    """The JSON in the 0600 file ``path``; ``FileNotFoundError`` when there is none."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as stream:
        _check_private_file(stream.fileno(), path)
        raw = stream.read()
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise _bad_file(f"invalid JSON ({error})", path) from None


def read_connection_file(path: Path | None = None) -> ConnectionInfo:
    """The info in the file; raises ``daemon_not_running`` when there is none."""
    path = path or default_connection_path()
    try:
        obj = read_private_json(path)
    except FileNotFoundError:
        raise ProtocolError(
            f"daemon not running: no connection file at {path}",
            code=ErrorCode.DAEMON_NOT_RUNNING.value,
            hint="start it with `xdub daemon start` (or from the xdub tray app)",
        ) from None
    try:
        return ConnectionInfo.from_json(obj)
    except ProtocolError as error:
        raise _bad_file(str(error), path) from None


def is_local(info: ConnectionInfo) -> bool:
    """Whether ``info`` names a daemon on this machine (ipc, or a loopback or local address)."""
    if info.transport == "ipc":
        return True
    host = info.request_address.split("://", 1)[1].rsplit(":", 1)[0].strip("[]")
    if host in ("localhost", "*"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: another machine


def is_alive(info: ConnectionInfo) -> bool:
    """Whether the daemon process named by ``info`` still exists; a daemon on another machine
    (its connection file copied here) counts as alive, its pid meaning nothing here."""
    return not is_local(info) or _pid_exists(info.pid)


def find_daemon(path: Path | None = None) -> ConnectionInfo:
    """The info of a running daemon; ``daemon_not_running`` if there is no file or its pid died."""
    path = path or default_connection_path()
    info = read_connection_file(path)
    if not is_alive(info):
        raise ProtocolError(
            f"daemon not running: process {info.pid} of {path} has exited",
            code=ErrorCode.DAEMON_NOT_RUNNING.value,
            hint="start it with `xdub daemon start` (or from the xdub tray app)",
        )
    return info


def remove_connection_file(path: Path | None = None, *, pid: int | None = None) -> bool:
    """Remove the file if it names ``pid`` (default: this process); a newer daemon's stays."""
    path = path or default_connection_path()
    try:
        info = read_connection_file(path)
    except ProtocolError as error:
        if error.code == ErrorCode.DAEMON_NOT_RUNNING.value:
            return False
        raise
    if info.pid != (os.getpid() if pid is None else pid):
        return False
    path.unlink(missing_ok=True)
    log.info("removed the connection file %s", path)
    return True


if sys.platform == "win32":
    import ctypes

    _PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
    _STILL_ACTIVE = 259
    _ERROR_ACCESS_DENIED = 5

    def _pid_exists(pid: int) -> bool:
        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        handle = kernel32.OpenProcess(_PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
        if not handle:
            return bool(ctypes.get_last_error() == _ERROR_ACCESS_DENIED)
        try:
            exit_code = ctypes.c_ulong()
            if not kernel32.GetExitCodeProcess(handle, ctypes.byref(exit_code)):
                return True
            return exit_code.value == _STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)

else:

    def _pid_exists(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # it exists, under another user
        return True
