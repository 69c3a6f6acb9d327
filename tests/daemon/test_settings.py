"""Daemon settings: the VRAM policy applies from the next job, and stored settings apply at
start unless the command line names them."""

from __future__ import annotations

from pathlib import Path

import pytest

from xdub.errors import ProtocolError
from xdub.protocol.records import JobState, VramPolicy
from xdub_daemon.__main__ import config_from_args, parse_args
from xdub_daemon.config import DaemonConfig
from xdub_daemon.manage import stored_config
from xdub_daemon.store import JobStore


def _stored(tmp_path: Path, values: dict[str, object]) -> JobStore:
    store = JobStore(tmp_path / "jobs.sqlite3", tmp_path / "jobs")
    store.save_settings(values)
    return store


def test_stored_settings_apply_at_start_unless_pinned_by_the_command_line(tmp_path: Path) -> None:
    store = _stored(
        tmp_path,
        {
            "models_dir": "/stored/models",
            "model_source": "/stored/hub",
            "allow_lan": True,
            "vram_policy": "low_vram",
            "queue_paused": True,
        },
    )
    plain = stored_config(config_from_args(parse_args([])), store)
    assert plain.model_dir == Path("/stored/models") and plain.model_source == "/stored/hub"
    assert plain.allow_lan is True and plain.vram_policy is VramPolicy.LOW_VRAM
    args = parse_args(["--model", "/given", "--vram-policy", "offload", "--model-source", "hub"])
    pinned = stored_config(config_from_args(args), store)
    assert pinned.model_dir == Path("/given") and pinned.vram_policy is VramPolicy.OFFLOAD
    assert pinned.model_source == "hub" and pinned.allow_lan is True


def test_without_stored_settings_the_defaults_hold(tmp_path: Path) -> None:
    config = stored_config(config_from_args(parse_args([])), _stored(tmp_path, {}))
    defaults = DaemonConfig()
    assert config.vram_policy is VramPolicy.RESIDENT and config.allow_lan is False
    assert config.model_dir == defaults.model_dir and config.model_source == "hub"


def test_the_vram_policy_applies_from_the_next_job_and_survives_a_restart(
    daemon_factory, short_clip, fast_options
) -> None:
    daemon = daemon_factory()
    daemon.start()
    with daemon.client("settings") as client:
        assert client.settings()["vram_policy"] == VramPolicy.RESIDENT.value
        with pytest.raises(ProtocolError, match="one of resident, offload, low_vram"):
            client.settings({"vram_policy": "all_of_it"})
        assert client.settings({"vram_policy": "low_vram"})["vram_policy"] == "low_vram"
        job_id = client.submit(short_clip.otio, fast_options()).job_id
        assert client.wait(job_id, 300).state is JobState.DONE
    worker_log = daemon.log_text("worker.log")
    assert f"[job {job_id}] VRAM policy low_vram from now on" in worker_log
    assert "VRAM policy low_vram on cpu" in worker_log
    daemon.stop()
    daemon.start()
    with daemon.client("settings") as client:
        assert client.settings()["vram_policy"] == "low_vram"
    assert "stored settings applied: ['vram_policy']" in daemon.log_text()
    assert daemon.log_text("worker.log").count("VRAM policy low_vram on cpu") == 2
