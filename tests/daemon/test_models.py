"""Model management through the real daemon's sockets: download from a local folder standing
in for the hub (a tiny model with a sha256 manifest), cancel mid-way and resume, verify, delete."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from xdub.protocol.messages import ModelDownloadEvent, Models, ModelsReply, ModelTaskEvent
from xdub.protocol.records import DownloadState, ModelAction, ModelState
from xdub.weights.folder import COMPONENTS, ModelFolder
from xdub.weights.sources import write_manifest

DOWNLOAD_S = 4.0
"""The throttled download takes about this long, so a cancel lands mid-way."""
TIMEOUT_S = 120.0


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        item.relative_to(folder).as_posix(): item.read_bytes()
        for item in sorted(folder.rglob("*"))
        if item.is_file() and item.name != "sha256sums.txt"
    }


def _downloads(client, until, timeout_s: float = TIMEOUT_S) -> list[ModelDownloadEvent]:
    """``model_download`` events until ``until(events)`` holds."""
    seen: list[ModelDownloadEvent] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not until(seen):
        for event in client.events(0.5):
            if isinstance(event.content, ModelDownloadEvent):
                seen.append(event.content)
            if until(seen):
                break
    assert until(seen), seen[-5:]
    return seen


def _states(client, names) -> dict[str, ModelState]:
    return {model.name: model.state for model in client.models(ModelAction.LIST, names)}


def _wait_states(client, names, state: ModelState) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline and set(_states(client, names).values()) != {state}:
        time.sleep(0.2)
    assert set(_states(client, names).values()) == {state}, _states(client, names)


@pytest.fixture
def hub_copy(tmp_path: Path, tiny_model: Path) -> Path:
    source = tmp_path / "hub"
    shutil.copytree(tiny_model, source)
    write_manifest(source)
    return source


def test_download_cancel_resume_verify_delete(daemon_factory, tmp_path: Path, hub_copy) -> None:
    target = tmp_path / "models"
    rate_bps = sum(len(data) for data in _tree(hub_copy).values()) / DOWNLOAD_S
    daemon = daemon_factory(
        model=target,
        extra_args=("--model-source", str(hub_copy), "--model-max-bps", f"{rate_bps:.0f}"),
    )
    daemon.start(wait_models=False)  # nothing to load yet
    names = [entry.name for entry in COMPONENTS if ModelFolder(hub_copy).path(entry.name).exists()]
    with daemon.client() as client:
        client.hello()
        assert set(_states(client, names).values()) == {ModelState.MISSING}
        started = {model.name for model in client.models(ModelAction.DOWNLOAD, names)}
        assert started == set(names)
        _downloads(client, lambda seen: any(e.bytes_done > 0 for e in seen))
        client.models(ModelAction.CANCEL_DOWNLOAD, names)
        cancelled = _downloads(
            client, lambda seen: any(e.state is DownloadState.CANCELLED for e in seen)
        )[-1]
        assert 0 < cancelled.bytes_done < (cancelled.bytes_total or 0)
        assert any(target.rglob("*.incomplete"))
        assert ModelState.PARTIAL in _states(client, names).values()

        client.models(ModelAction.DOWNLOAD, names)
        events = _downloads(client, lambda seen: any(e.state is DownloadState.DONE for e in seen))
        resumed = next(e for e in events if e.file == cancelled.file)
        assert resumed.bytes_done == cancelled.bytes_done  # it went on from the partial file
        _wait_states(client, names, ModelState.READY)
        fetched, mirror = _tree(target), _tree(hub_copy)
        assert fetched == mirror and not any(target.rglob("*.incomplete"))

        victim = max(target.rglob("*.safetensors"), key=lambda item: item.stat().st_size)
        data = bytearray(victim.read_bytes())
        data[-10:] = bytes(255 - b for b in data[-10:])
        victim.write_bytes(bytes(data))
        client.models(ModelAction.VERIFY)
        deadline = time.monotonic() + TIMEOUT_S
        while (
            time.monotonic() < deadline
            and ModelState.CORRUPT not in _states(client, names).values()
        ):
            time.sleep(0.2)
        corrupt = [n for n, s in _states(client, names).items() if s is ModelState.CORRUPT]
        assert len(corrupt) == 1, _states(client, names)

        [deleted] = client.models(ModelAction.DELETE, corrupt)
        assert deleted.state is ModelState.MISSING and not victim.exists()


def _task_end(client, action: ModelAction) -> ModelTaskEvent:
    """The next ``model_task`` event of ``action``."""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        for event in client.events(0.5):
            content = event.content
            if isinstance(content, ModelTaskEvent) and content.action is action:
                return content
    raise AssertionError(f"no model_task event for {action.value}")


def test_the_daemon_owns_the_folder_the_cli_asks_it(
    daemon_factory, tmp_path: Path, hub_copy
) -> None:
    target = tmp_path / "models"
    rate_bps = sum(len(data) for data in _tree(hub_copy).values()) / DOWNLOAD_S
    daemon = daemon_factory(
        model=target,
        extra_args=("--model-source", str(hub_copy), "--model-max-bps", f"{rate_bps:.0f}"),
    )
    daemon.start(wait_models=False)
    with daemon.client() as client:
        client.hello()
        started = client.call(Models(ModelAction.DOWNLOAD))  # no names: what dubbing needs
        assert isinstance(started, ModelsReply) and started.running is ModelAction.DOWNLOAD
        assert started.free_bytes and any(not info.is_required for info in started.models)
        _downloads(client, lambda seen: any(e.bytes_done > 0 for e in seen))
        client.call(Models(ModelAction.CANCEL_DOWNLOAD, discard_partials=True))
        cancelled = _task_end(client, ModelAction.DOWNLOAD)
        assert cancelled.outcome is DownloadState.CANCELLED
        assert not any(target.rglob("*.incomplete"))  # discarded, not kept for a resume

        client.call(Models(ModelAction.DOWNLOAD))
        done = _task_end(client, ModelAction.DOWNLOAD)
        assert done.outcome is DownloadState.DONE
        listing = client.call(Models(ModelAction.LIST))
        assert isinstance(listing, ModelsReply) and listing.running is None
        required = [info for info in listing.models if info.is_required]
        assert required and {info.state for info in required} == {ModelState.READY}

        client.call(Models(ModelAction.VERIFY))
        verified = _task_end(client, ModelAction.VERIFY)
        assert (verified.outcome, verified.problems) == (DownloadState.DONE, ())

    cli = subprocess.run(
        [sys.executable, "-m", "xdub", "models", "list"],
        env=daemon.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "the daemon's model folder" in cli.stdout and str(target) in cli.stdout
