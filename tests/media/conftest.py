"""Fixtures for media tests: synthetic clips written into the test's ``tmp_path``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from xdub.media.synthetic import SyntheticClip, SyntheticVideoSpec, write_synthetic_video

TINY_SPEC = SyntheticVideoSpec(width=64, height=48, duration_s=0.6)
"""Small enough to encode and decode in milliseconds."""


@pytest.fixture
def make_clip(tmp_path: Path) -> Callable[..., SyntheticClip]:
    """``make_clip(name="clip.mp4", **spec_fields)`` writes a tiny synthetic clip."""

    def make(name: str = "clip.mp4", **fields: Any) -> SyntheticClip:
        return write_synthetic_video(tmp_path / name, replace(TINY_SPEC, **fields))

    return make
