"""``xdub models list|download|delete|du`` run as subprocesses over a local mirror folder."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xdub.cli import main
from xdub.weights.folder import COMPONENTS, ModelFolder, component_of
from xdub.weights.sources import PARTIAL_SUFFIX, LocalSource
from xdub.weights.tiny import make_tiny_folder

XDUB = Path(sys.executable).with_name("xdub")


def xdub(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(XDUB), "models", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mirror")
    make_tiny_folder(root / "checkpoints", seed=2)
    return root


def rows(stdout: str) -> dict[str, list[str]]:
    names = {entry.name for entry in COMPONENTS}
    table = [line.split() for line in stdout.splitlines()]
    return {words[0]: words[1:] for words in table if words and words[0] in names}


def test_download_then_list_du_and_delete(
    mirror: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    fetched = xdub("download", models, "--source", mirror)
    assert fetched.returncode == 0, fetched.stderr
    assert "fetched" in fetched.stdout
    # The rest mostly runs the same CLI in-process: each subprocess pays ~5 s of imports.

    assert main(["models", "list", str(models)]) == 0
    listed = rows(capsys.readouterr().out)
    required = {entry.name for entry in COMPONENTS if entry.is_required}
    assert {name for name, row in listed.items() if row[0] == "ready"} == required
    assert listed["umt5"][0] == "missing"

    assert main(["models", "du", str(models)]) == 0
    usage = capsys.readouterr().out
    total_line = next(line for line in usage.splitlines() if line.startswith("total"))
    fetched_bytes = sum(
        file.size_bytes
        for file in LocalSource(mirror).list_files()
        if component_of(file.path) in required
    )
    assert total_line.split()[1:] == [f"{fetched_bytes / 1e6:.1f}", "MB"]  # the tiny is ~7 MB

    assert main(["models", "delete", str(models), "wav2vec2"]) == 1
    assert "--yes" in capsys.readouterr().out
    assert (models / "wav2vec2-base-960h").is_dir()
    deleted = xdub("delete", models, "wav2vec2", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert not (models / "wav2vec2-base-960h").exists()
    assert main(["models", "list", str(models)]) == 0
    assert rows(capsys.readouterr().out)["wav2vec2"][0] == "missing"
    assert main(["models", "verify", str(models), "--source", str(mirror)]) == 1
    assert "problem: wav2vec2-base-960h/: is missing" in capsys.readouterr().out


def test_ctrl_c_cancels_and_the_same_command_resumes(mirror: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    command = [str(XDUB), "models", "download", str(models), "--source", str(mirror)]
    slow = subprocess.Popen(
        [*command, "--limit-rate", "1M"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not any(p.stat().st_size for p in models.rglob(f"*{PARTIAL_SUFFIX}")):
        assert slow.poll() is None and time.monotonic() < deadline, "no partial file appeared"
        time.sleep(0.05)
    slow.send_signal(signal.SIGINT)
    stdout, stderr = slow.communicate(timeout=60)

    assert slow.returncode == 130, stderr
    assert "run the same command to resume" in stdout
    partials = [p for p in models.rglob(f"*{PARTIAL_SUFFIX}") if p.stat().st_size]
    assert partials

    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    for file in LocalSource(mirror).list_files():
        if (models / file.path).exists():
            source_bytes = (mirror / "checkpoints" / file.path).read_bytes()
            assert (models / file.path).read_bytes() == source_bytes, file.path
    assert not list(models.rglob(f"*{PARTIAL_SUFFIX}"))
    assert ModelFolder(models).verify() == []
