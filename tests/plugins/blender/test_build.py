"""``xdub plugins build blender``: the zip, the vendored protocol, and Blender's validator."""

from __future__ import annotations

import subprocess
import textwrap
import zipfile
from pathlib import Path

import pytest

from xdub.cli import main
from xdub.cli.plugins.build import PYZMQ_VERSION, WHEEL_TARGETS, stage_extension
from xdub.cli.plugins.vendor import vendor_module

from .conftest import BPY_VENVS

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_zip_holds_source_vendored_protocol_and_wheels(extension_zip: Path) -> None:
    with zipfile.ZipFile(extension_zip) as bundle:
        names = set(bundle.namelist())
        manifest = bundle.read("blender_manifest.toml").decode()
        transport = bundle.read("xdub_protocol/zmq_transport.py").decode()
    assert {"__init__.py", "operators.py", "core/timing.py", "xdub_protocol/exceptions.py"} <= names
    assert "xdub_protocol/otio_json.py" in names  # core/job_json.py writes the job with it
    wheels = sorted(name for name in names if name.startswith("wheels/"))
    assert len(wheels) == len(WHEEL_TARGETS)
    assert all(f"pyzmq-{PYZMQ_VERSION}-" in name for name in wheels)
    for wheel in wheels:
        assert f'"./{wheel}"' in manifest
    assert "from .connection import (" in transport and "from .exceptions import" in transport
    assert not any("__pycache__" in name for name in names)


def test_vendoring_refuses_other_xdub_imports() -> None:
    assert vendor_module("from xdub.errors import X\n", "m.py") == "from .exceptions import X\n"
    with pytest.raises(Exception, match="which hosts lack") as raised:
        vendor_module("from xdub.media import probe\n", "m.py")
    assert raised.value.code == "build_failed"


def test_offline_build_without_cached_wheels_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="no pyzmq") as raised:
        from xdub.cli.plugins.build import build_blender

        build_blender(tmp_path / "dist", wheel_cache=tmp_path / "empty", offline=True)
    assert "without --offline" in (raised.value.hint or "")


def test_cli_builds_offline(
    tmp_path: Path, wheel_cache: Path, capsys: pytest.CaptureFixture
) -> None:
    code = main(["plugins", "build", "blender", "-o", str(tmp_path), "--wheel-cache",
                 str(wheel_cache), "--offline"])  # fmt: skip
    assert code == 0
    assert Path(capsys.readouterr().out.strip()) == tmp_path / "xdub-0.1.0.zip"


@pytest.mark.parametrize("venv", sorted(BPY_VENVS.values()))
def test_blender_validates_the_zip(venv: str, extension_zip: Path) -> None:
    python = REPO_ROOT / venv / "bin" / "python"
    if not python.exists():
        pytest.skip(f"{python} is absent: run `bash installers/blender-test-env.sh`")
    found = sorted((REPO_ROOT / venv).glob("lib/python*/site-packages/bpy/*/scripts/addons_core"))
    script = found[0] / "bl_pkg" / "cli" / "blender_ext.py"
    run = subprocess.run(
        [str(python), str(script), "validate", str(extension_zip)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("version", sorted(BPY_VENVS))
def test_the_vendored_client_imports_in_each_blenders_python(version: str, tmp_path: Path) -> None:
    """The staged extension's ``xdub_protocol`` in the bpy venv's Python (Blender's 3.11): the
        same module names as in Resolve, no ``xdub`` install needed. The venv lacks pyzmq (Blender
    installs the zip's wheels), so the client picks the ``xdub bridge`` transport, as Resolve's."""
    python = REPO_ROOT / BPY_VENVS[version] / "bin" / "python"
    if not python.exists():
        pytest.skip(f"{python} is absent: run `bash installers/blender-test-env.sh`")
    stage_extension(tmp_path / "ext" / "xdub_ext")
    program = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        sys.path.insert(0, sys.argv[1])
        from xdub_ext import worker
        from xdub_ext.xdub_protocol import client, exceptions, takes
        assert client.__file__.startswith(sys.argv[1]), client.__file__
        c = client.DaemonClient(Path(sys.argv[2]) / "none.json", client_name="test")
        print(client.has_pyzmq(), type(c.transport).__name__)
        try:
            c.hello()
        except exceptions.ProtocolError as error:
            print(error.code)
        assert not any(name == "xdub" or name.startswith("xdub.") for name in sys.modules)
        """
    )
    result = subprocess.run(
        [str(python), "-I", "-c", program, str(tmp_path / "ext"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "BridgeTransport", "daemon_not_running"]


def test_the_manifest_is_gpl_with_a_real_maintainer() -> None:
    """A Blender add-on links against Blender's GPL API: the extensions platform wants GPL."""
    import tomllib

    from xdub.cli.plugins.build import EXTENSION_SOURCE

    manifest = tomllib.loads((EXTENSION_SOURCE / "blender_manifest.toml").read_text("utf-8"))
    assert manifest["license"] == ["SPDX:GPL-3.0-or-later"]
    assert "example." not in manifest["maintainer"] and manifest["maintainer"].strip()


def test_the_build_reads_the_manifest_as_toml(tmp_path: Path) -> None:
    """Valid TOML that a line regex misreads: single quotes, a comment after the value."""
    from xdub.cli.plugins import build

    staged = stage_extension(tmp_path / "staged")
    path = staged / "blender_manifest.toml"
    text = path.read_text("utf-8")
    text = text.replace('id = "xdub"', "id = 'xdub'  # the module name")
    text = text.replace('version = "0.1.0"', 'version = "0.1.0" # bump per release')
    path.write_text(text, encoding="utf-8")
    assert build._write_manifest(staged, []) == "xdub-0.1.0.zip"
    assert "wheels = []" in path.read_text("utf-8")
