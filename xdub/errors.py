"""The xdub exception tree, grouped by who must act.

    XdubError                 base; every error carries a stable ``code``
    ├── MediaError            the user's file: unreadable, no face, bad audio ...
    ├── ModelError            missing, truncated or mismatched weights
    ├── ProtocolError         malformed, unsigned or stale daemon messages
    └── JobError              a job that cannot run or continue
    JobCancelled              an outcome, not a failure (not an XdubError)

``code`` values are the error codes of the daemon protocol, so a boundary can catch
``XdubError`` and still tell the user something precise.
"""

from __future__ import annotations


class XdubError(Exception):
    """Base class. ``code`` is machine-readable; ``hint`` says what to do about it."""

    code = "internal"

    def __init__(self, message: str, *, code: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class MediaError(XdubError):
    """A problem with the user's media (video or audio)."""

    code = "bad_media"


class ModelError(XdubError):
    """Model weights are missing, truncated, or do not match the expected layout."""

    code = "bad_model"


class ProtocolError(XdubError):
    """A daemon message was rejected; ``code`` names the reason (e.g. ``bad_signature``)."""

    code = "bad_message"


class JobError(XdubError):
    """A job could not run or continue."""

    code = "job_failed"


class JobCancelled(Exception):
    """Raised when a cancel request stops work between steps. Not a failure."""
