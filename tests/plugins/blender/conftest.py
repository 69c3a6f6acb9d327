"""Fixtures of the Blender extension tests: the staged extension, the built zip, a tiny model."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from xdub.cli.plugins.build import build_blender, default_wheel_cache, fetch_wheels, stage_extension

PACKAGE_NAME = "xdub_blender_extension"
BPY_VENVS = {"4.2": ".venv-bpy42", "4.5": ".venv-bpy45", "5.0": ".venv-bpy50"}
"""Blender version -> its test venv (``installers/blender-test-env.sh``): the oldest supported
LTS, the current LTS and 5.x."""


@pytest.fixture(scope="session")
def extension(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The staged extension (source + vendored protocol) imported as a package, without bpy."""
    staged = stage_extension(tmp_path_factory.mktemp("staged") / "xdub")
    spec = importlib.util.spec_from_file_location(
        PACKAGE_NAME, staged / "__init__.py", submodule_search_locations=[str(staged)]
    )
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE_NAME] = package
    spec.loader.exec_module(package)
    yield package
    for name in [name for name in sys.modules if name.startswith(PACKAGE_NAME)]:
        del sys.modules[name]


@pytest.fixture(scope="session")
def timing(extension: ModuleType) -> ModuleType:
    return importlib.import_module(f"{PACKAGE_NAME}.core.timing")


@pytest.fixture(scope="session")
def placement(extension: ModuleType) -> ModuleType:
    return importlib.import_module(f"{PACKAGE_NAME}.core.placement")


@pytest.fixture(scope="session")
def job_json(extension: ModuleType) -> ModuleType:
    return importlib.import_module(f"{PACKAGE_NAME}.core.job_json")


@pytest.fixture(scope="session")
def takes(extension: ModuleType) -> ModuleType:
    """The extension's take reader: its copy of ``xdub.protocol.takes``."""
    return importlib.import_module(f"{PACKAGE_NAME}.xdub_protocol.takes")


@pytest.fixture(scope="session")
def wheel_cache() -> Path:
    """The user wheel cache, filled once (pip download) so that builds can run offline."""
    cache = default_wheel_cache()
    fetch_wheels(cache)
    return cache


@pytest.fixture(scope="session")
def extension_zip(tmp_path_factory: pytest.TempPathFactory, wheel_cache: Path) -> Path:
    """The installable extension, built offline from the filled cache."""
    return build_blender(tmp_path_factory.mktemp("dist"), wheel_cache=wheel_cache, offline=True)


@pytest.fixture(scope="session")
def blender_tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny random TEST WEIGHTS for the real daemon the bpy scenarios talk to."""
    from xdub.weights.tiny import make_tiny_folder

    return make_tiny_folder(tmp_path_factory.mktemp("blender-tiny-model")).root
