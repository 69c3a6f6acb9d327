"""xdub: visual dubbing for video editors, built on the X-Dub model."""

from __future__ import annotations

from xdub.errors import JobCancelled, JobError, MediaError, ModelError, ProtocolError, XdubError

__version__ = "0.1.0"

__all__ = [
    "JobCancelled",
    "JobError",
    "MediaError",
    "ModelError",
    "ProtocolError",
    "XdubError",
    "__version__",
]
