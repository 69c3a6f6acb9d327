"""The protocol's error codes: one enum shared by the daemon, the tray, the CLI and the plugins.

Stdlib-only and Python 3.10-compatible: hosts' Pythons get a copy of this module.
"""

from __future__ import annotations

from enum import Enum


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
    WORKER_CRASHED = "worker_crashed"
    OUT_OF_MEMORY = "out_of_memory"
    # Settings, and bugs.
    UNKNOWN_SETTING = "unknown_setting"
    INTERNAL = "internal"
