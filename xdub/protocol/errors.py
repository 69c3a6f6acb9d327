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
    BAD_PAIRING_CODE = "bad_pairing_code"
    TIMEOUT = "timeout"
    HANDSHAKE_FAILED = "handshake_failed"
    # Media transfer to and from a remote daemon (since 1.4).
    CHUNK_CORRUPT = "chunk_corrupt"
    UPLOAD_CORRUPT = "upload_corrupt"
    UNKNOWN_UPLOAD = "unknown_upload"
    UPLOAD_TOO_LARGE = "upload_too_large"
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
    NOT_FOUND = "not_found"
    NOT_A_FILE = "not_a_file"
    UNREADABLE_MEDIA = "unreadable_media"
    TRUNCATED_MEDIA = "truncated_media"
    NO_VIDEO = "no_video"
    NO_FRAMES = "no_frames"
    NO_TIMESTAMPS = "no_timestamps"
    NO_AUDIO = "no_audio"
    EMPTY_AUDIO = "empty_audio"
    BAD_FPS = "bad_fps"
    BAD_SIZE = "bad_size"
    BAD_ROTATION = "bad_rotation"
    BAD_RANGE = "bad_range"
    BAD_TIMECODE = "bad_timecode"
    FACE_TOO_SMALL = "face_too_small"
    # The take being written.
    BAD_SETTINGS = "bad_settings"
    BAD_OUTPUT_PATH = "bad_output_path"
    BAD_TIMESTAMPS = "bad_timestamps"
    BAD_AUDIO_LAYOUT = "bad_audio_layout"
    BAD_AUDIO_PATH = "bad_audio_path"
    WRITE_FAILED = "write_failed"
    DISK_FULL = "disk_full"
    BAD_SPEC = "bad_spec"
    # Models and the worker.
    BAD_MODEL = "bad_model"
    MODEL_MISSING = "model_missing"
    MODEL_CORRUPT = "model_corrupt"
    MODEL_MISMATCH = "model_mismatch"
    MODEL_SOURCE = "model_source"
    UNKNOWN_MODEL = "unknown_model"
    UNKNOWN_BACKEND = "unknown_backend"
    BACKEND_UNAVAILABLE = "backend_unavailable"
    UNSUPPORTED_HARDWARE = "unsupported_hardware"
    DOWNLOAD_FAILED = "download_failed"
    MODEL_BUSY = "model_busy"
    WORKER_CRASHED = "worker_crashed"
    OUT_OF_MEMORY = "out_of_memory"
    # The Ray farm backend (docs/farm.md).
    FARM_MISSING = "farm_missing"
    FARM_UNREACHABLE = "farm_unreachable"
    NO_FARM_GPUS = "no_farm_gpus"
    # Settings, the command line, building the plugins, and bugs.
    UNKNOWN_SETTING = "unknown_setting"
    BAD_ARGUMENTS = "bad_arguments"
    BUILD_FAILED = "build_failed"
    SETUP_FAILED = "setup_failed"
    NOT_IMPLEMENTED = "not_implemented"
    INTERNAL = "internal"


_MEDIA_CODES = {
    ErrorCode.BAD_MEDIA,
    ErrorCode.NO_FACE,
    ErrorCode.BAD_AUDIO,
    ErrorCode.NOT_FOUND,
    ErrorCode.NOT_A_FILE,
    ErrorCode.UNREADABLE_MEDIA,
    ErrorCode.TRUNCATED_MEDIA,
    ErrorCode.NO_VIDEO,
    ErrorCode.NO_FRAMES,
    ErrorCode.NO_TIMESTAMPS,
    ErrorCode.NO_AUDIO,
    ErrorCode.EMPTY_AUDIO,
    ErrorCode.BAD_FPS,
    ErrorCode.BAD_SIZE,
    ErrorCode.BAD_ROTATION,
    ErrorCode.BAD_RANGE,
    ErrorCode.BAD_TIMECODE,
    ErrorCode.FACE_TOO_SMALL,
    ErrorCode.BAD_SETTINGS,
    ErrorCode.BAD_OUTPUT_PATH,
    ErrorCode.BAD_TIMESTAMPS,
    ErrorCode.BAD_AUDIO_LAYOUT,
    ErrorCode.BAD_AUDIO_PATH,
    ErrorCode.WRITE_FAILED,
    ErrorCode.DISK_FULL,
    ErrorCode.BAD_SPEC,
}
_MODEL_CODES = {
    ErrorCode.BAD_MODEL,
    ErrorCode.MODEL_MISSING,
    ErrorCode.MODEL_CORRUPT,
    ErrorCode.MODEL_MISMATCH,
    ErrorCode.MODEL_SOURCE,
    ErrorCode.UNKNOWN_MODEL,
    ErrorCode.UNKNOWN_BACKEND,
    ErrorCode.BACKEND_UNAVAILABLE,
    ErrorCode.UNSUPPORTED_HARDWARE,
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
    ErrorCode.FARM_MISSING,
    ErrorCode.FARM_UNREACHABLE,
    ErrorCode.NO_FARM_GPUS,
    ErrorCode.INTERNAL,
    ErrorCode.UNKNOWN_SETTING,
    ErrorCode.BAD_ARGUMENTS,
    ErrorCode.BUILD_FAILED,
    ErrorCode.SETUP_FAILED,
    ErrorCode.NOT_IMPLEMENTED,
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
