"""The app environment from a lock, with the real uv and a loopback "index" of tiny wheels:
only the lock's URLs are fetched, a wheel the index stopped publishing fails clearly and leaves
the previous install alone, and uv's cache/link failures fall back to copies."""

from __future__ import annotations

import base64
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from xdub.setup.accelerator import MachineProbe
from xdub.setup.environment import Installer, Request, StepFailed, link_mode
from xdub.setup.layout import Layout

UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
pytestmark = pytest.mark.skipif(UV is None, reason="uv is not installed (pip install uv)")
NAMES = ("tinypkg_a", "tinypkg_b")


def make_wheel(folder: Path, name: str, version: str = "1.0") -> Path:
    """A minimal valid pure-Python wheel whose module says its own name."""
    path = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"NAME = {name!r}\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in files.items():
            data = text.encode()
            archive.writestr(member, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{member},sha256={digest},{len(data)}")
        archive.writestr(f"{info}/RECORD", "\n".join([*record, f"{info}/RECORD,,"]) + "\n")
    return path


class Index:
    """A loopback HTTP server of a folder that records every path asked for."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.requests: list[str] = []
        index = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
                super().__init__(*args, directory=str(folder), **kwargs)

            def do_GET(self) -> None:
                index.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Index]:
    files = tmp_path / "served" / "files"
    files.mkdir(parents=True)
    for name in NAMES:
        make_wheel(files, name)
    served = Index(tmp_path / "served")
    yield served
    served.close()


def write_lock(lock_dir: Path, index: Index) -> Path:
    lock_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for wheel in sorted((index.folder / "files").glob("*.whl")):
        name = wheel.name.split("-")[0]
        sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
        entries.append(
            f'[[packages]]\nname = "{name.replace("_", "-")}"\nversion = "1.0"\n'
            f'wheels = [{{ url = "{index.url}/files/{wheel.name}", '
            f'hashes = {{ sha256 = "{sha}" }} }}]\n'
        )
    path = lock_dir / "pylock.linux-x86_64-cpu.toml"
    path.write_text('lock-version = "1.0"\ncreated-by = "test"\n\n' + "\n".join(entries))
    return path


def installer(tmp_path: Path, **request: object) -> Installer:
    probe = MachineProbe("linux", "x86_64", lambda argv: None, lambda p: None, lambda p: False)
    environ = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    environ.pop("UV_LINK_MODE", None)
    assert UV is not None
    return Installer(
        Request(uv=UV, build="cpu", lock_dir=tmp_path / "locks", python=sys.executable,
                **request),  # type: ignore[arg-type]
        probe=probe, layout=Layout.for_user("linux", tmp_path / "home", {}), environ=environ,
        say=lambda line: None,
    )  # fmt: skip


def run_package_steps(inst: Installer) -> None:
    inst.layout.envs.mkdir(parents=True, exist_ok=True)
    for step in ("detect", "lock", "venv", "packages"):
        getattr(inst, f"step_{step}")()


def imports(inst: Installer) -> str:
    code = "import tinypkg_a, tinypkg_b; print(tinypkg_a.NAME, tinypkg_b.NAME)"
    result = subprocess.run([str(inst.python), "-c", code], capture_output=True, text=True)
    return result.stdout.strip()


def test_lock_install_fetches_exactly_the_pinned_urls(tmp_path: Path, index: Index) -> None:
    write_lock(tmp_path / "locks", index)
    inst = installer(tmp_path)
    run_package_steps(inst)
    assert imports(inst) == "tinypkg_a tinypkg_b"
    assert sorted(set(index.requests)) == [f"/files/{n}-1.0-py3-none-any.whl" for n in NAMES]


def test_index_that_stopped_publishing_fails_clearly_and_keeps_the_previous_install(
    tmp_path: Path, index: Index
) -> None:
    write_lock(tmp_path / "locks", index)
    layout = Layout.for_user("linux", tmp_path / "home", {})
    (layout.venv("previous") / "bin").mkdir(parents=True)
    layout.current_file.write_text("previous\n")
    (index.folder / "files" / "tinypkg_b-1.0-py3-none-any.whl").unlink()  # no longer published
    inst = installer(tmp_path)
    with pytest.raises(StepFailed) as caught:
        inst.install()
    error = caught.value
    assert error.step == "packages" and error.code == "setup_failed"
    assert "tinypkg_b" in str(error) and "nothing was resolved afresh" in str(error)
    assert "previous install (previous) is untouched" in (error.hint or "")
    assert layout.current_env() == "previous"
    assert sorted(p.name for p in layout.envs.iterdir()) == ["previous"]  # half-built env gone
    assert all(path.startswith("/files/") for path in index.requests)  # no index was queried


def test_wheelhouse_install_uses_no_index_and_names_a_missing_wheel(
    tmp_path: Path, index: Index
) -> None:
    write_lock(tmp_path / "locks", index)
    wheelhouse = tmp_path / "wheelhouse"
    shutil.copytree(index.folder / "files", wheelhouse)
    run_package_steps(installer(tmp_path, wheelhouse=wheelhouse))
    assert index.requests == []
    (wheelhouse / "tinypkg_a-1.0-py3-none-any.whl").unlink()
    write_lock(tmp_path / "again" / "locks", index)
    with pytest.raises(StepFailed, match="tinypkg.a") as caught:
        run_package_steps(installer(tmp_path / "again", wheelhouse=wheelhouse))
    assert caught.value.step == "packages"


def test_a_cache_link_failure_is_retried_with_copies(tmp_path: Path, index: Index) -> None:
    write_lock(tmp_path / "locks", index)
    inst = installer(tmp_path)
    calls: list[list[str]] = []
    real_run = inst.run

    def first_install_fails_to_link(argv, env):  # type: ignore[no-untyped-def]
        calls.append(list(argv))
        if argv[1:3] == ["pip", "install"] and len(calls) == 2:  # fault injection, once
            message = "error: Failed to install: tinypkg_a\n  Caused by: failed to hardlink file"
            return subprocess.CompletedProcess(argv, 2, "", message + " (os error 18)")
        return real_run(argv, env)

    inst.run = first_install_fails_to_link
    run_package_steps(inst)
    assert imports(inst) == "tinypkg_a tinypkg_b"
    retry = calls[-1]
    assert retry[retry.index("--link-mode") + 1] == "copy" and "--refresh" in retry


def test_link_mode_copies_across_file_systems_and_honours_uv_link_mode(tmp_path: Path) -> None:
    assert (
        link_mode(tmp_path / "cache", tmp_path / "envs", {"UV_LINK_MODE": "symlink"}) == "symlink"
    )
    assert link_mode(tmp_path / "cache", tmp_path / "envs", {}) in ("hardlink", "clone")
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second file system here")
    assert link_mode(shm / "xdub-cache", tmp_path / "envs", {}) == "copy"


def test_cache_on_another_file_system_installs_copies(tmp_path: Path, index: Index) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second file system here")
    write_lock(tmp_path / "locks", index)
    inst = installer(tmp_path)
    cache = Path(shm / f"xdub-test-cache-{os.getpid()}")
    object.__setattr__(inst.layout, "data", tmp_path / "home" / "data")
    try:
        inst.layout.envs.mkdir(parents=True)
        os.symlink(cache, inst.layout.uv_cache, target_is_directory=True)
        cache.mkdir()
        assert link_mode(inst.layout.uv_cache, inst.layout.envs, {}) == "copy"
        run_package_steps(inst)
        assert imports(inst) == "tinypkg_a tinypkg_b"
        module = next(inst.venv.rglob("tinypkg_a/__init__.py"))
        assert module.stat().st_nlink == 1  # a copy, not a link into the cache
    finally:
        shutil.rmtree(cache, ignore_errors=True)
