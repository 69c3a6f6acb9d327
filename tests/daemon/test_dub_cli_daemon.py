"""``xdub dub`` goes through a running daemon (its connection file), and ``--local`` does not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.daemon import TEST_ENV


def _dub(daemon, clip, output: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **TEST_ENV, "XDUB_CONNECTION_FILE": str(daemon.connection_file)}
    command = [sys.executable, "-m", "xdub", "dub", str(clip.video), str(clip.audio)]
    command += ["-o", str(output), "--steps", "1", "--seed", "3", "--codec", "h264", *extra]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


def test_dub_submits_to_the_running_daemon_and_copies_the_take(
    running_daemon, short_clip, tmp_path: Path
) -> None:
    from xdub.media.probe import probe

    output = tmp_path / "take.mp4"
    with running_daemon.client() as client:
        before = {job.job_id for job in client.list_jobs(limit=1000)}
        run = _dub(running_daemon, short_clip, output)
        assert run.returncode == 0, run.stdout + run.stderr
        [job] = [job for job in client.list_jobs(limit=1000) if job.job_id not in before]
    assert job.state.value == "done" and job.options.seed == 3 and job.options.num_steps == 1
    assert f"daemon job {job.job_id}" in run.stdout
    assert "denoise" in run.stderr  # the progress bar followed the daemon's progress events
    assert probe(output).num_frames == probe(short_clip.video).num_frames


def test_dub_local_runs_in_process_even_with_a_daemon(
    running_daemon, short_clip, tiny_model: Path, tmp_path: Path
) -> None:
    from xdub.media.probe import probe

    output = tmp_path / "local.mp4"
    with running_daemon.client() as client:
        before = len(client.list_jobs(limit=1000))
        run = _dub(running_daemon, short_clip, output, "--local", "--model", str(tiny_model))
        assert run.returncode == 0, run.stdout + run.stderr
        assert len(client.list_jobs(limit=1000)) == before
    assert "1 windows;" in run.stdout and "daemon" not in run.stdout  # the in-process summary
    assert probe(output).num_frames == probe(short_clip.video).num_frames
