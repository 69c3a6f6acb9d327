"""The generic JSON codec of the protocol's frozen dataclasses, and version/time helpers.

Stdlib-only and Python 3.10-compatible: hosts' Pythons get a copy of this module.

Constructing a ``Content`` subclass validates it, from JSON or from Python alike: JSON lists
become tuples, strings become enum members, ints become floats where a float is expected, and
anything else raises ``ProtocolError(code="bad_content")`` naming the class and the field.
``from_json`` ignores keys it does not know (fields a newer minor version added).
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Any, ClassVar, TypeVar, Union

from xdub.errors import ProtocolError
from xdub.protocol.errors import ErrorCode

PROTOCOL_VERSION = "1.4"
"""The protocol's own version, ``MAJOR.MINOR``; separate from the package version."""

_VERSION = re.compile(r"(\d{1,4})\.(\d{1,4})")
_UTC_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:Z|\+00:00)"
)

C = TypeVar("C", bound="Content")


def bad_content(message: str) -> ProtocolError:
    """The error for content that does not match its schema."""
    return ProtocolError(message, code=ErrorCode.BAD_CONTENT.value)


def parse_version(text: str) -> tuple[int, int]:
    """``"1.0"`` -> ``(1, 0)``; anything else is ``unsupported_version``."""
    match = _VERSION.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ProtocolError(
            f"protocol version {text!r} is not MAJOR.MINOR",
            code=ErrorCode.UNSUPPORTED_VERSION.value,
        )
    return int(match[1]), int(match[2])


def negotiate_version(client_version: str, server_version: str = PROTOCOL_VERSION) -> str:
    """The version two peers use: same major, the lower minor; another major is refused."""
    client, server = parse_version(client_version), parse_version(server_version)
    if client[0] != server[0]:
        raise ProtocolError(
            f"protocol {client_version} cannot talk to protocol {server_version}",
            code=ErrorCode.UNSUPPORTED_VERSION.value,
            hint="install the same major version of xdub for the daemon and the plugin",
        )
    return f"{server[0]}.{min(client[1], server[1])}"


def parse_utc(text: str) -> datetime:
    """An ISO 8601 UTC timestamp (``Z`` or ``+00:00``, 0-6 fraction digits) -> aware datetime."""
    match = _UTC_TIMESTAMP.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a UTC ISO 8601 timestamp")
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    microsecond = int((match[7] or "0").ljust(6, "0"))
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=timezone.utc)


def format_utc(moment: datetime) -> str:
    """An aware datetime -> ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---------------------------------------------------------------------------------------------
# The generic codec


_HINTS: dict[type, dict[str, Any]] = {}


def _field_hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _convert(hint: Any, value: Any, where: str) -> Any:
    """``value`` checked against ``hint`` and brought to its canonical Python form."""
    origin = typing.get_origin(hint)
    if origin is Union or origin is types.UnionType:
        options = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(options) != 1:
            raise TypeError(f"the codec handles X | None unions only, not {hint!r} ({where})")
        if value is None:
            return None
        return _convert(options[0], value, where)
    if hint is Any:
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise bad_content(f"{where} must be true or false, not {value!r}")
        return value
    if hint is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad_content(f"{where} must be an integer, not {value!r}")
        return value
    if hint is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise bad_content(f"{where} must be a number, not {value!r}")
        if not math.isfinite(value):
            raise bad_content(f"{where} must be finite, not {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise bad_content(f"{where} must be a string, not {value!r}")
        return value
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(value)
        except ValueError:
            allowed = ", ".join(repr(member.value) for member in hint)
            raise bad_content(f"{where} must be one of {allowed}, not {value!r}") from None
    if isinstance(hint, type) and issubclass(hint, Content):
        if isinstance(value, hint):
            return value
        return hint.from_json(value, where=where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise bad_content(f"{where} must be a list, not {value!r}")
        item_hint = typing.get_args(hint)[0]
        return tuple(_convert(item_hint, item, f"{where}[{i}]") for i, item in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
            raise bad_content(f"{where} must be an object with string keys, not {value!r}")
        value_hint = typing.get_args(hint)[1]
        return {key: _convert(value_hint, item, f"{where}.{key}") for key, item in value.items()}
    raise TypeError(f"messages.py has no codec for {hint!r} ({where})")


def _to_json_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Content):
        return value.to_json()
    if isinstance(value, (tuple, list)):
        return [_to_json_value(item) for item in value]
    if isinstance(value, dict):
        return {key: _to_json_value(item) for key, item in value.items()}
    return value


@dataclass(frozen=True)
class Content:
    """Base of every JSON object of the protocol: message contents and their parts."""

    MSG_TYPE: ClassVar[str] = ""

    def __post_init__(self) -> None:
        hints = _field_hints(type(self))
        for item in dataclasses.fields(self):
            where = f"{type(self).__name__}.{item.name}"
            converted = _convert(hints[item.name], getattr(self, item.name), where)
            object.__setattr__(self, item.name, converted)
        self._validate()

    def _validate(self) -> None:
        """Checks of values beyond their types; raises ``bad_content``."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (``None`` as ``null``, tuples as lists)."""
        return {
            item.name: _to_json_value(getattr(self, item.name)) for item in dataclasses.fields(self)
        }

    @classmethod
    def from_json(cls: type[C], obj: Any, *, where: str = "") -> C:
        """Validate a decoded JSON object; unknown keys are ignored (newer minor versions)."""
        where = where or cls.__name__
        if not isinstance(obj, Mapping):
            raise bad_content(f"{where} must be a JSON object, not {type(obj).__name__}")
        cls._check_envelope(obj, where)
        values = {}
        for item in dataclasses.fields(cls):
            if item.name in obj:
                values[item.name] = obj[item.name]
            elif _is_required(item):
                raise bad_content(f"{where} lacks the field {item.name!r}")
        return cls(**values)

    @classmethod
    def _check_envelope(cls, obj: Mapping[str, Any], where: str) -> None:
        """Checks of keys that are not fields (a reply's ``status``)."""


def _is_required(item: dataclasses.Field[Any]) -> bool:
    return item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING


def require(condition: bool, message: str) -> None:
    """Raise ``bad_content`` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise bad_content(message)


class Request(Content):
    """A message a client sends on the request socket; its reply type is ``MSG_TYPE_reply``."""


class Reply(Content):
    """A successful reply: ``{"status": "ok", ...fields}``."""

    def to_json(self) -> dict[str, Any]:
        return {"status": "ok", **super().to_json()}

    @classmethod
    def _check_envelope(cls, obj: Mapping[str, Any], where: str) -> None:
        status = obj.get("status")
        require(status == "ok", f"{where}.status must be 'ok', not {status!r}")


class Event(Content):
    """A message the daemon publishes on the event socket."""
