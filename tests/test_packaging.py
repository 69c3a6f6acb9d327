"""The distribution's shape: import names, package list, public surface, console script."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import xdub

REPO_ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def test_every_source_package_is_listed_in_pyproject() -> None:
    setuptools_cfg = _pyproject()["tool"]["setuptools"]
    folder_of = {name: Path(folder) for name, folder in setuptools_cfg["package-dir"].items()}
    found = set()
    for import_name, folder in folder_of.items():
        for init in (REPO_ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(REPO_ROOT / folder)
            found.add(".".join((import_name, *relative.parts)))
    assert found == set(setuptools_cfg["packages"])


def test_no_generic_top_level_import_names() -> None:
    names = set(_pyproject()["tool"]["setuptools"]["package-dir"])
    assert not names & {"daemon", "gui", "plugins", "tests"}


def test_public_surface_matches_all() -> None:
    public = {name for name in dir(xdub) if not name.startswith("_")} - {"annotations"}
    modules = {name for name in public if type(getattr(xdub, name)).__name__ == "module"}
    assert public - modules == set(xdub.__all__) - {"__version__"}


def test_import_xdub_is_light_and_the_pipeline_comes_on_first_use() -> None:
    code = (
        "import sys, xdub\n"
        "assert 'torch' not in sys.modules\n"
        "assert xdub.DubOptions().num_steps == 30 and 'torch' not in sys.modules\n"
        "assert xdub.DubPipeline.__module__ == 'xdub.pipeline'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


def test_console_script_help_lists_command_groups() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "xdub", "--help"], capture_output=True, text=True, check=True
    )
    for group in ("media", "models"):
        assert group in result.stdout
