"""The extension in real Blender against a remote daemon (``--listen``; the connection file
decides): the media go up, the take is downloaded to ``//xdub_takes/`` beside the .blend and
the strip placed from that copy, not from the daemon's own folder (its data root is elsewhere).

A take download cancelled from the sidebar leaves the job done with its take not there; Download
Take resumes the download from the chunk it kept and places the take.

One bpy version (the newest venv present) plays the driver's ``remote`` and ``remote_restart``
scenarios only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.daemon import DaemonProcess

from xdub.media.synthetic import (
    AudioSpec,
    SyntheticVideoSpec,
    write_synthetic_audio,
    write_synthetic_video,
)
from xdub.protocol.connection import read_connection_file, write_connection_file
from xdub.protocol.takes import read_take

from .conftest import BPY_VENVS
from .test_blender_bpy import REPO_ROOT, TIMEOUT_S, run_driver

pytestmark = pytest.mark.timeout(900)


def _newest_bpy() -> Path:
    for version in sorted(BPY_VENVS, reverse=True):
        python = REPO_ROOT / BPY_VENVS[version] / "bin" / "python"
        if python.exists():
            return python
    pytest.skip("no bpy venv: run `bash installers/blender-test-env.sh`")


@pytest.fixture(scope="module")
def remote_facts(
    tmp_path_factory: pytest.TempPathFactory, extension_zip: Path, blender_tiny_model: Path
) -> Iterator[dict[str, Any]]:
    python = _newest_bpy()
    work = tmp_path_factory.mktemp("bpy-remote")
    media = work / "laptop-media"
    media.mkdir()
    spec = SyntheticVideoSpec(duration_s=2.0)
    write_synthetic_video(media / "A001.mp4", spec)
    write_synthetic_audio(media / "line.wav", spec.speech(), AudioSpec())
    listen = ("--listen", "127.0.0.1:0")
    daemon = DaemonProcess(work / "gpu-box", blender_tiny_model, extra_args=listen)
    daemon.start(wait_models=False)
    info = read_connection_file(daemon.connection_file)
    laptop = write_connection_file(info, work / "laptop-run" / "daemon.json")
    config = {
        "video": str(media / "A001.mp4"),
        "audio": str(media / "line.wav"),
        "zip": str(extension_zip),
        "work": str(work),
        "remote_connection_file": str(laptop),
        "timeout_s": TIMEOUT_S,
        "scenarios": ["install", "remote", "remote_restart"],
    }
    try:
        run, facts = run_driver(python, work, config, 2 * TIMEOUT_S)
        job_id = facts.get("remote", {}).get("job_id")
        if job_id:
            with daemon.client() as client:
                facts["daemon_take"] = read_take(client.get(job_id).result_otio or "").path
            facts["submitted"] = daemon.submitted_otio(job_id)
        restart_id = facts.get("remote_restart", {}).get("job_id")
        if restart_id:
            with daemon.client() as client:
                facts["restart_take"] = read_take(client.get(restart_id).result_otio or "").path
    finally:
        daemon.stop()
    facts.update(work=str(work), media=str(media), daemon_root=str(daemon.root))
    facts["log"] = f"exit {run.returncode}\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    yield facts


def _md5(path: str | Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def test_remote_take_is_downloaded_beside_the_blend_and_placed(
    remote_facts: dict[str, Any],
) -> None:
    result = remote_facts.get("remote", {})
    assert "crash" not in result and result, remote_facts["log"]
    assert result["submit_error"] == "" and result["state"] == "done", result
    assert "downloading" in result["stages"]  # the download's progress showed
    take = result["take"]
    assert take["raw_filepath"].startswith("//xdub_takes/"), take
    placed = Path(take["filepath"])
    assert placed.parent == Path(remote_facts["work"]) / "xdub_takes"
    daemon_take = Path(remote_facts["daemon_take"])
    assert daemon_take.is_relative_to(remote_facts["daemon_root"]) and daemon_take != placed
    assert placed.name == daemon_take.name and _md5(placed) == _md5(daemon_take)
    assert [p.name for p in placed.parent.iterdir()] == [placed.name]  # no partial file
    assert remote_facts["media"] not in remote_facts["submitted"]  # the media were uploaded


def test_a_cancelled_take_download_is_restarted_from_the_sidebar(
    remote_facts: dict[str, Any],
) -> None:
    result = remote_facts.get("remote_restart", {})
    assert "crash" not in result and result, remote_facts["log"]
    assert result["submit_error"] == "" and result["submitted"] in ("queued", "running"), result
    stopped = result["stopped"]
    assert (stopped["state"], stopped["take_strip"]) == ("done", ""), stopped
    assert stopped["take_stopped"] and stopped["can_download_take"], stopped
    assert "[bad_state]" in stopped["message"] and "Download Take" in stopped["message"]
    daemon_take = Path(remote_facts["restart_take"])
    assert daemon_take.is_relative_to(remote_facts["daemon_root"])
    chunk_bytes = 64 * 1024
    assert daemon_take.stat().st_size > 2 * chunk_bytes  # more than the chunk it kept
    (part,) = [name for name in stopped["files"] if name.endswith(".part")]
    assert part.startswith(f".{daemon_take.name}.") and stopped["files"][part] == chunk_bytes
    assert set(stopped["files"]) == {part, part + ".sha256"}  # no take, no other file
    first_chunk = daemon_take.read_bytes()[:chunk_bytes]
    assert stopped["partial_sha256"] == hashlib.sha256(first_chunk).hexdigest()

    assert result["restarted_state"] == "downloading"  # pending again: progress and Cancel
    assert result["state"] == "done" and not result["take_stopped_after"], result
    assert "downloading" in result["stages"]
    take = result["take"]
    assert take is not None and take["raw_filepath"].startswith("//xdub_takes/"), result
    placed = Path(take["filepath"])
    assert placed.name == daemon_take.name and _md5(placed) == _md5(daemon_take)
    assert result["files_after"] == [placed.name]  # the partial file and its note are gone
    assert "has no take to download" in result["again"]
