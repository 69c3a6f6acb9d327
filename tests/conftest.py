"""Shared fixtures: where the reference data lives, and deterministic torch settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def reference_root() -> Path:
    """``../shared/reference`` beside the checkout, or ``$XDUB_REFERENCE_DIR``."""
    override = os.environ.get("XDUB_REFERENCE_DIR")
    return Path(override) if override else REPO_ROOT.parent / "shared" / "reference"


def _required_dir(path: Path) -> Path:
    if not path.is_dir():
        pytest.fail(f"reference data not found at {path}; set XDUB_REFERENCE_DIR", pytrace=False)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete model folder of tiny random TEST weights, written once per session."""
    from xdub.weights.tiny import make_tiny_folder

    root = tmp_path_factory.mktemp("tiny-model")
    make_tiny_folder(root, seed=0)
    return root


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The shared reference folder (manifests, golden tensors)."""
    return _required_dir(reference_root())


@pytest.fixture(scope="session")
def golden_dir(reference_dir: Path) -> Path:
    """Golden tensors made by the reference X-Dub code on tiny random weights."""
    return _required_dir(reference_dir / "golden")


@pytest.fixture(scope="session")
def pose_dir(reference_dir: Path) -> Path:
    """Key manifests and golden outputs of the OpenMMLab YOLOX-L / RTMW-x models."""
    return _required_dir(reference_dir / "pose")
