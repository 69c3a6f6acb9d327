"""The protocol's error codes: one enum shared by the daemon, the tray, the CLI and the plugins.

Stdlib-only and Python 3.10-compatible: hosts' Pythons get a copy of this module.
"""

from __future__ import annotations

from enum import Enum

from xdub.errors import JobError, MediaError, ModelError, ProtocolError, XdubError


class ErrorCode(str, Enum):
    """Every ``code`` an error reply or an ``XdubError`` can carry; docs/protocol.md lists them."""

    # Rejections by the message checks, in the order they run.
    TOO_LARGE = "too_large"
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    UNSUPPORTED_VERSION = "unsupported_version"
    STALE = "stale"
    REPLAYED = "replayed"
    UNKNOWN_TYPE = "unknown_type"
    BAD_CONTENT = "bad_content"
    BAD_MESSAGE = "bad_message"
    BAD_KEY = "bad_key"
    # Reaching the daemon.
    DAEMON_NOT_RUNNING = "daemon_not_running"
    BAD_CONNECTION_FILE = "bad_connection_file"
    NOT_LOOPBACK = "not_loopback"
    TIMEOUT = "timeout"
    # Jobs.
    BAD_JOB = "bad_job"
    UNKNOWN_JOB = "unknown_job"
    JOB_EXISTS = "job_exists"
    BAD_STATE = "bad_state"
    JOB_FAILED = "job_failed"
    # The user's media.
    BAD_MEDIA = "bad_media"
    NO_FACE = "no_face"
    BAD_AUDIO = "bad_audio"
    # Models and the worker.
    BAD_MODEL = "bad_model"
    MODEL_MISSING = "model_missing"
    DOWNLOAD_FAILED = "download_failed"
    MODEL_BUSY = "model_busy"
    WORKER_CRASHED = "worker_crashed"
    OUT_OF_MEMORY = "out_of_memory"
    # Settings, and bugs.
    UNKNOWN_SETTING = "unknown_setting"
    SETUP_FAILED = "setup_failed"
    NOT_IMPLEMENTED = "not_implemented"
    INTERNAL = "internal"


_MEDIA_CODES = {ErrorCode.BAD_MEDIA, ErrorCode.NO_FACE, ErrorCode.BAD_AUDIO}
_MODEL_CODES = {
    ErrorCode.BAD_MODEL,
    ErrorCode.MODEL_MISSING,
    ErrorCode.DOWNLOAD_FAILED,
    ErrorCode.MODEL_BUSY,
}
_JOB_CODES = {
    ErrorCode.BAD_JOB,
    ErrorCode.UNKNOWN_JOB,
    ErrorCode.JOB_EXISTS,
    ErrorCode.BAD_STATE,
    ErrorCode.JOB_FAILED,
    ErrorCode.WORKER_CRASHED,
    ErrorCode.OUT_OF_MEMORY,
}
_NOT_PROTOCOL_CODES = {
    ErrorCode.INTERNAL,
    ErrorCode.UNKNOWN_SETTING,
    ErrorCode.NOT_IMPLEMENTED,
    ErrorCode.SETUP_FAILED,
}


def exception_for(code: str, message: str, hint: str | None = None) -> XdubError:
    """The exception of the tree that an error reply's ``code`` belongs to."""
    try:
        known = ErrorCode(code)
    except ValueError:
        return XdubError(message, code=code, hint=hint)
    if known in _MEDIA_CODES:
        return MediaError(message, code=code, hint=hint)
    if known in _MODEL_CODES:
        return ModelError(message, code=code, hint=hint)
    if known in _JOB_CODES:
        return JobError(message, code=code, hint=hint)
    if known in _NOT_PROTOCOL_CODES:
        return XdubError(message, code=code, hint=hint)
    return ProtocolError(message, code=code, hint=hint)
