"""xdub: visual dubbing for video editors, built on the X-Dub model.

The public surface: ``DubPipeline`` (and its ``DubResult``), the options record ``DubOptions``
and the exception tree. ``import xdub`` stays light: the pipeline (torch and the networks) is
imported the first time ``xdub.DubPipeline`` is used.
"""

from __future__ import annotations

import importlib
import typing

from xdub.errors import JobCancelled, JobError, MediaError, ModelError, ProtocolError, XdubError

if typing.TYPE_CHECKING:
    from xdub.pipeline import DubPipeline, DubResult
    from xdub.protocol.records import DubOptions

__version__ = "0.1.0"

_LAZY = {
    "DubOptions": "xdub.protocol.records",
    "DubPipeline": "xdub.pipeline",
    "DubResult": "xdub.pipeline",
}
"""Public names imported on first use, and their modules."""

__all__ = [
    "DubOptions",
    "DubPipeline",
    "DubResult",
    "JobCancelled",
    "JobError",
    "MediaError",
    "ModelError",
    "ProtocolError",
    "XdubError",
    "__version__",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'xdub' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
