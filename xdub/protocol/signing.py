"""The wire: signing, serializing and checking multipart messages (docs/protocol.md, "Wire format").

Stdlib-only and Python 3.10-compatible: hosts' Pythons get a copy of this module.

A message is ``[identity..., DELIMITER, signature, header, parent_header, metadata, content,
buffer...]``. The signature is the hex HMAC-SHA256 over every frame after it, each fed as its
8-byte big-endian length and its bytes. ``Session.deserialize`` runs the documented checks in
order and raises ``RejectedMessage`` (a ``ProtocolError``) whose ``code`` names the reason.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, NoReturn

from xdub.errors import ProtocolError
from xdub.protocol.errors import ErrorCode
from xdub.protocol.messages import (
    MESSAGE_TYPES,
    REPLY_SUFFIX,
    ErrorReply,
    parse_content,
    reply_type,
)
from xdub.protocol.schema import (
    PROTOCOL_VERSION,
    Content,
    Request,
    format_utc,
    parse_utc,
    parse_version,
)

log = logging.getLogger(__name__)

DELIMITER = b"<XDUB|MSG>"
SIGNATURE_SCHEME = "hmac-sha256"
MIN_KEY_BYTES = 32
_SIGNATURE_HEX_LEN = 64
_DICT_FRAMES = ("header", "parent_header", "metadata", "content")
_NUM_DICT_FRAMES = len(_DICT_FRAMES)
_HEADER_FIELDS = ("msg_id", "msg_type", "session", "date", "version")


@dataclass(frozen=True)
class Limits:
    """What a receiver accepts; larger or older messages are rejected before anything is parsed."""

    max_identities: int = 8
    max_buffers: int = 8
    max_frame_bytes: int = 16 * 2**20
    max_total_bytes: int = 64 * 2**20
    max_clock_skew_s: float = 300.0
    history_size: int = 65536


class RejectedMessage(ProtocolError):
    """A message failed a check. ``header`` is set once the signature verified (worth a reply)."""

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode,
        identities: tuple[bytes, ...] = (),
        header: Header | None = None,
    ) -> None:
        super().__init__(message, code=code.value)
        self.identities = identities
        self.header = header


@dataclass(frozen=True)
class Header:
    """The header of a message; ``date`` is UTC ISO 8601."""

    msg_id: str
    msg_type: str
    session: str
    date: str
    version: str

    def to_json(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in _HEADER_FIELDS}

    @classmethod
    def from_json(cls, obj: Any) -> Header:
        """Raises ``malformed`` unless ``obj`` has the five string fields and a UTC date."""
        if not isinstance(obj, Mapping):
            raise ProtocolError("the header is not a JSON object", code=ErrorCode.MALFORMED.value)
        for name in _HEADER_FIELDS:
            if not isinstance(obj.get(name), str) or not obj[name]:
                raise ProtocolError(
                    f"header field {name!r} is missing or not a string",
                    code=ErrorCode.MALFORMED.value,
                )
        try:
            parse_utc(obj["date"])
        except ValueError as error:
            raise ProtocolError(f"header date: {error}", code=ErrorCode.MALFORMED.value) from None
        return cls(**{name: obj[name] for name in _HEADER_FIELDS})


@dataclass(frozen=True)
class Message:
    """A received message that passed every check."""

    identities: tuple[bytes, ...]
    header: Header
    parent_header: Header | None
    metadata: dict[str, Any]
    content: Content
    buffers: tuple[bytes, ...] = ()

    @property
    def msg_type(self) -> str:
        return self.header.msg_type

    @property
    def is_error(self) -> bool:
        """Whether this is an error reply."""
        return isinstance(self.content, ErrorReply)


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
"""A JSON escape of a UTF-16 surrogate: the only way a decoded frame can hold one."""


def _is_encodable(obj: Any) -> bool:
    """Whether ``obj`` can be sent back as UTF-8 (paired surrogate escapes decode to one
    character; a lone one cannot be encoded, and a reply echoing it would fail)."""
    try:
        _dumps(obj)
    except UnicodeEncodeError:
        return False
    return True


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice: parsers differ on which one wins, so a
    message must not depend on it."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"the key {key!r} appears twice")
            seen.add(key)
    return obj


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


class Session:
    """Signs outgoing and checks incoming messages with one key; keeps the replay history.

    ``key`` is the raw key, at least 32 bytes (``bytes.fromhex(connection.key)``). ``clock``
    gives seconds since the epoch (a seam for tests); ``protocol_version`` is what this side
    puts in its headers (set it to the version ``hello`` negotiated).
    """

    def __init__(
        self,
        key: bytes,
        *,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.time,
        protocol_version: str = PROTOCOL_VERSION,
    ) -> None:
        if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
            raise ProtocolError(
                f"a session key must be at least {MIN_KEY_BYTES} bytes",
                code=ErrorCode.BAD_KEY.value,
                hint="use the 64-hex-digit key of the connection file: bytes.fromhex(key)",
            )
        self._hmac = hmac.new(key, digestmod=hashlib.sha256)
        self.limits = limits or Limits()
        self.clock = clock
        self.protocol_version = protocol_version
        self.session_id = uuid.uuid4().hex
        self._major = parse_version(PROTOCOL_VERSION)[0]
        self._history: OrderedDict[bytes, None] = OrderedDict()

    def sign(self, frames: Sequence[bytes]) -> bytes:
        """The hex signature (64 ASCII bytes) of the frames after the signature."""
        digest = self._hmac.copy()
        for frame in frames:
            digest.update(len(frame).to_bytes(8, "big"))
            digest.update(frame)
        return digest.hexdigest().encode("ascii")

    def header(self, msg_type: str) -> Header:
        """A fresh header for an outgoing ``msg_type``."""
        moment = datetime.fromtimestamp(self.clock(), tz=timezone.utc)
        return Header(
            msg_id=uuid.uuid4().hex,
            msg_type=msg_type,
            session=self.session_id,
            date=format_utc(moment),
            version=self.protocol_version,
        )

    def serialize(
        self,
        msg_type: str,
        content: Content | Mapping[str, Any],
        parent: Header | None = None,
        buffers: Sequence[bytes] = (),
        *,
        identities: Sequence[bytes] = (),
        metadata: Mapping[str, Any] | None = None,
        header: Header | None = None,
    ) -> list[bytes]:
        """The signed frames of a message; ``content`` is validated against ``msg_type``.

        ``header`` defaults to a fresh ``self.header(msg_type)``; pass one to know its msg_id.
        """
        header = header or self.header(msg_type)
        if header.msg_type != msg_type:
            raise ProtocolError(
                f"header says {header.msg_type!r}, not {msg_type!r}", code=ErrorCode.MALFORMED.value
            )
        obj = content.to_json() if isinstance(content, Content) else dict(content)
        is_error_reply = isinstance(content, ErrorReply) and msg_type.endswith(REPLY_SUFFIX)
        if not is_error_reply:  # an error may answer a request type we do not know
            parsed = parse_content(msg_type, obj)
            if isinstance(content, Content) and type(parsed) is not type(content):
                raise ProtocolError(
                    f"{type(content).__name__} is not the content of msg_type {msg_type!r}",
                    code=ErrorCode.BAD_CONTENT.value,
                )
        frames = [
            _dumps(header.to_json()),
            _dumps(parent.to_json() if parent else {}),
            _dumps(dict(metadata or {})),
            _dumps(obj),
            *buffers,
        ]
        return [*identities, DELIMITER, self.sign(frames), *frames]

    def reply(self, request: Message, content: Content) -> list[bytes]:
        """The frames answering ``request`` (an ok reply or an ``ErrorReply``), routed back."""
        return self._answer(request.header, request.identities, content)

    def rejection_reply(self, rejection: RejectedMessage) -> list[bytes] | None:
        """The error reply to a rejected request; ``None`` when it gets none (see the spec).

        Messages that failed before their signature verified, and replies or events sent to
        the wrong socket, are dropped.
        """
        header = rejection.header
        if header is None:
            return None
        known = MESSAGE_TYPES.get(header.msg_type)
        if known is not None and not issubclass(known, Request):
            return None
        error = ErrorReply.from_exception(rejection)
        return self._answer(header, rejection.identities, error)

    def _answer(
        self, request: Header, identities: Sequence[bytes], content: Content
    ) -> list[bytes]:
        msg_type = reply_type(request.msg_type)
        return self.serialize(msg_type, content, parent=request, identities=identities)

    def deserialize(self, frames: Sequence[bytes]) -> Message:
        """Check ``frames`` in the documented order; raises ``RejectedMessage``."""
        identities, signature, dict_frames, buffers = self._split(frames)
        if not hmac.compare_digest(signature, self.sign([*dict_frames, *buffers])):
            self._reject(ErrorCode.BAD_SIGNATURE, "the signature does not verify", identities)
        header_obj, parent_obj, metadata, content_obj = self._decode(dict_frames, identities)
        try:
            header = Header.from_json(header_obj)
            parent = Header.from_json(parent_obj) if parent_obj else None
        except ProtocolError as error:
            self._reject(ErrorCode.MALFORMED, str(error), identities)
        self._check_version_and_date(header, identities)
        if signature in self._history:
            self._reject(
                ErrorCode.REPLAYED, "this message was already received", identities, header
            )
        self._history[signature] = None
        if len(self._history) > self.limits.history_size:
            self._history.popitem(last=False)
        try:
            content = parse_content(header.msg_type, content_obj)
        except ProtocolError as error:
            self._reject(ErrorCode(error.code), str(error), identities, header)
        return Message(identities, header, parent, metadata, content, tuple(buffers))

    def _split(
        self, frames: Sequence[bytes]
    ) -> tuple[tuple[bytes, ...], bytes, list[bytes], list[bytes]]:
        limits = self.limits
        frames = list(frames)
        if not all(isinstance(frame, bytes) for frame in frames):
            self._reject(ErrorCode.MALFORMED, "frames must be bytes", ())
        try:
            split = frames.index(DELIMITER)
        except ValueError:
            self._reject(ErrorCode.MALFORMED, "no delimiter frame", ())
        identities = tuple(frames[:split])
        body = frames[split + 1 :]
        if len(identities) > limits.max_identities:
            self._reject(ErrorCode.TOO_LARGE, f"{len(identities)} identity frames", ())
        if len(body) < 1 + _NUM_DICT_FRAMES:
            self._reject(ErrorCode.MALFORMED, f"{len(body)} frames after the delimiter", identities)
        if len(body) > 1 + _NUM_DICT_FRAMES + limits.max_buffers:
            self._reject(ErrorCode.TOO_LARGE, f"{len(body)} frames after the delimiter", identities)
        largest = max(len(frame) for frame in frames)
        if largest > limits.max_frame_bytes:
            self._reject(ErrorCode.TOO_LARGE, f"a frame of {largest} bytes", identities)
        total = sum(len(frame) for frame in frames)
        if total > limits.max_total_bytes:
            self._reject(ErrorCode.TOO_LARGE, f"a message of {total} bytes", identities)
        signature = body[0]
        if len(signature) != _SIGNATURE_HEX_LEN:
            self._reject(ErrorCode.BAD_SIGNATURE, "the message is not signed", identities)
        return identities, signature, body[1 : 1 + _NUM_DICT_FRAMES], body[1 + _NUM_DICT_FRAMES :]

    def _decode(self, dict_frames: list[bytes], identities: tuple[bytes, ...]) -> list[Any]:
        decoded = []
        for name, frame in zip(
            ("header", "parent_header", "metadata", "content"), dict_frames, strict=True
        ):
            try:
                obj = json.loads(
                    frame.decode("utf-8"),
                    parse_constant=_refuse_constant,
                    object_pairs_hook=_unique_keys,
                )
            except (UnicodeDecodeError, ValueError, RecursionError) as error:
                self._reject(ErrorCode.MALFORMED, f"{name}: invalid JSON ({error})", identities)
            if not isinstance(obj, dict):
                self._reject(ErrorCode.MALFORMED, f"{name} is not a JSON object", identities)
            if _ESCAPED_SURROGATE.search(frame) and not _is_encodable(obj):
                self._reject(ErrorCode.MALFORMED, f"{name}: text with a lone surrogate", identities)
            decoded.append(obj)
        return decoded

    def _check_version_and_date(self, header: Header, identities: tuple[bytes, ...]) -> None:
        try:
            major = parse_version(header.version)[0]
        except ProtocolError as error:
            self._reject(ErrorCode.UNSUPPORTED_VERSION, str(error), identities, header)
        if major != self._major:
            self._reject(
                ErrorCode.UNSUPPORTED_VERSION,
                f"protocol {header.version} is not {PROTOCOL_VERSION}'s major version",
                identities,
                header,
            )
        skew_s = abs(self.clock() - parse_utc(header.date).timestamp())
        if skew_s > self.limits.max_clock_skew_s:
            self._reject(ErrorCode.STALE, f"dated {skew_s:.0f} s away from now", identities, header)

    def _reject(
        self,
        code: ErrorCode,
        reason: str,
        identities: tuple[bytes, ...],
        header: Header | None = None,
    ) -> NoReturn:
        peer = identities[0].hex() if identities else "-"
        msg_type = header.msg_type if header else "?"
        log.warning("rejected a message from %s (msg_type %s): %s", peer, msg_type, code.value)
        raise RejectedMessage(
            f"{code.value}: {reason}", code=code, identities=identities, header=header
        )
