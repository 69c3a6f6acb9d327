"""``xdub daemon start|status|logs|stop``, ``xdub submit`` and ``xdub jobs`` end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

XDUB = [sys.executable, "-m", "xdub"]


def _xdub(
    env: dict[str, str], *args: str, timeout_s: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*XDUB, *args], env=env, capture_output=True, text=True, timeout=timeout_s
    )


def test_cli_starts_the_daemon_submits_watches_and_stops_it(
    tmp_path: Path, tiny_model: Path, short_clip
) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    connection = runtime / "daemon.json"
    env = {
        **os.environ,
        "XDUB_DATA_DIR": str(tmp_path / "data"),
        "XDUB_LOG_DIR": str(tmp_path / "logs"),
        "XDUB_CONNECTION_FILE": str(connection),
        "OMP_NUM_THREADS": "1",  # as the other daemon tests (tests/daemon/conftest.py)
    }
    assert _xdub(env, "daemon", "status").returncode == 1
    started = _xdub(env, "daemon", "start", "--model", str(tiny_model), "--device", "cpu")
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        assert "started the daemon" in started.stdout
        status = _xdub(env, "daemon", "status")
        assert status.returncode == 0 and "running: xdub" in status.stdout
        again = _xdub(env, "daemon", "start", "--model", str(tiny_model))
        assert "already running" in again.stdout

        out = tmp_path / "takes"
        out.mkdir()
        submitted = _xdub(
            env,
            *("submit", str(short_clip.video), str(short_clip.audio)),
            *("--steps", "1", "--seed", "3", "--codec", "h264", "--output-dir", str(out)),
            "--wait",
        )
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        job_id = submitted.stdout.split()[0]
        assert "done" in submitted.stdout
        [take] = out.iterdir()
        assert job_id in take.name and f"take: {take}" in submitted.stdout

        listing = _xdub(env, "jobs", "list")
        assert job_id in listing.stdout and "done" in listing.stdout
        retry = _xdub(env, "jobs", "retry", job_id)
        assert retry.returncode == 2 and "bad_state" in retry.stderr
        logs = _xdub(env, "daemon", "logs", "-n", "2")
        assert logs.returncode == 0 and len(logs.stdout.splitlines()) == 2
        assert "retry failed: bad_state" in logs.stdout
        assert f"[job {job_id}] running -> done" in _xdub(env, "daemon", "logs").stdout
    finally:
        stopped = _xdub(env, "daemon", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert not connection.exists()
    assert _xdub(env, "daemon", "status").returncode == 1
