"""Where xdub keeps things on this machine (platformdirs; overridable by environment)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "xdub"


def data_dir() -> Path:
    """Per-user data: models, the job store, takes (``$XDUB_DATA_DIR`` overrides)."""
    override = os.environ.get("XDUB_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME))


def default_model_dir() -> Path:
    """The X-Dub model folder (``$XDUB_MODEL_DIR`` overrides)."""
    override = os.environ.get("XDUB_MODEL_DIR")
    return Path(override) if override else data_dir() / "models" / "x-dub"


def cache_dir() -> Path:
    """Per-user cache: audio features (``$XDUB_CACHE_DIR`` overrides)."""
    override = os.environ.get("XDUB_CACHE_DIR")
    return Path(override) if override else Path(platformdirs.user_cache_dir(APP_NAME))


def default_log_dir() -> Path:
    """The daemon's and the worker's logs (``$XDUB_LOG_DIR`` overrides)."""
    override = os.environ.get("XDUB_LOG_DIR")
    return Path(override) if override else Path(platformdirs.user_log_dir(APP_NAME))
