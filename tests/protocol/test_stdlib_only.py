"""The modules hosts copy (Resolve's and Blender's Pythons) use the stdlib only, on Python 3.10."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import xdub
from xdub import protocol

XDUB_DIR = Path(xdub.__file__).resolve().parent
HOST_MODULES = (
    "errors.py",
    "protocol/__init__.py",
    *(f"protocol/{name}.py" for name in protocol.HOST_MODULES),
)
NEWER_THAN_3_10 = {
    "enum": {"StrEnum", "ReprEnum", "verify", "global_enum"},
    "typing": {"Self", "Never", "LiteralString", "assert_never", "reveal_type", "Required"},
    "datetime": {"UTC"},
    "hashlib": {"file_digest"},
    "contextlib": {"chdir"},
}
NEWER_MODULES = {"tomllib", "wsgiref.types"}


def _copy_for_a_host(target: Path) -> Path:
    """What a host build copies: the protocol modules, the error tree, an empty ``xdub``."""
    package = target / "xdub"
    (package / "protocol").mkdir(parents=True)
    (package / "__init__.py").write_text('"""xdub protocol, as copied into a host."""\n')
    for name in HOST_MODULES:
        shutil.copy(XDUB_DIR / name, package / name)
    return target


def test_host_copy_imports_without_site_packages(tmp_path: Path) -> None:
    root = _copy_for_a_host(tmp_path)
    program = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import xdub.protocol, xdub.protocol.connection as c;"
        "key = bytes(32);"
        "s = xdub.protocol.Session(key);"
        "m = s.deserialize(s.serialize('list', {'limit': 5}));"
        "assert m.content.limit == 5, m;"
        "print(c.default_connection_path().name);"
        "import json, xdub.protocol.otio_json as j;"
        "clip = j.MediaClip('A1', '/m/a.mov', j.Span(0, 5, 25));"
        "line = j.DialogueClip(j.MediaClip('', '/m/d.wav', j.Span(0, 9600, 48000)), 0);"
        "t = j.build_job(clip, [line], name='S', host='h', rate=25, start_frame=0, record_frame=0);"
        "print(j.clips_with_role(json.loads(j.job_to_json(t)), 'source')[0]['name']);"
        "heavy = {'zmq', 'torch', 'numpy', 'av', 'platformdirs', 'opentimelineio'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-I", "-c", program, str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["daemon.json", "A1", "[]"]


@pytest.mark.parametrize("name", HOST_MODULES)
def test_module_parses_as_python_3_10_without_newer_names(name: str) -> None:
    source = (XDUB_DIR / name).read_text(encoding="utf-8")
    tree = ast.parse(source, feature_version=(3, 10))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in NEWER_THAN_3_10:
            used = {alias.name for alias in node.names} & NEWER_THAN_3_10[node.module]
            assert not used, f"{name} imports {used} from {node.module} (Python 3.11+)"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            newer = NEWER_THAN_3_10.get(node.value.id, set())
            assert node.attr not in newer, f"{name} uses {node.value.id}.{node.attr} (3.11+)"
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            modules.append(getattr(node, "module", None) or "")
            assert not NEWER_MODULES & set(modules), f"{name} imports a 3.11+ module"
