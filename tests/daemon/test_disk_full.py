"""A disk that fills up: real small filesystems (tmpfs) and a real ``ulimit -f`` (EFBIG).

The crop store, the take and the checkpoints fail with ``disk_full`` naming the folder and the
space needed, leave no partial file, the daemon keeps serving, and a retry after freeing
space succeeds; ``xdub dub --local`` exits with that error, never SIGBUS or a traceback."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from support.small_fs import fill, small_filesystem

from xdub.errors import MediaError
from xdub.protocol.records import JobState
from xdub.sample.clips import LoopState
from xdub_daemon.checkpoint import CHECKPOINT_DIR, load_checkpoint, save_checkpoint

FSIZE_LIMIT_BYTES = 64 * 1024
"""``ulimit -f`` for the EFBIG test: above the dialogue and probes, below the face crops."""


def _dub_local(clip, output: Path, model: Path, env: dict[str, str], limit: int | None = None):
    def limit_file_size() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    command = [sys.executable, "-m", "xdub", "dub", "--local", str(clip.video), str(clip.audio)]
    command += ["-o", str(output), "--model", str(model), "--device", "cpu", "--steps", "1"]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        preexec_fn=limit_file_size,
    )


def test_local_dub_with_a_full_temp_folder_says_disk_full(
    tmp_path: Path, tiny_model: Path, two_window_clip
) -> None:
    import os

    with small_filesystem(tmp_path / "tmp") as small:
        fill(small, 256 * 1024)  # the 80 crops of 64 px need 983 KB
        output = tmp_path / "out" / "take.mp4"
        result = _dub_local(
            two_window_clip, output, tiny_model, {**os.environ, "TMPDIR": str(small)}
        )
        leftovers = sorted(p.name for p in small.rglob("*"))
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "[disk_full]" in result.stderr and str(small) in result.stderr
    assert "needs about" in result.stderr and "Traceback" not in result.stderr
    assert leftovers == ["filler.bin"]  # no sparse crops.npy left behind
    assert not output.exists()


def test_local_dub_under_ulimit_f_says_disk_full_not_a_traceback(
    tmp_path: Path, tiny_model: Path, two_window_clip
) -> None:
    import os

    output = tmp_path / "take.mp4"
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    result = _dub_local(two_window_clip, output, tiny_model, env, limit=FSIZE_LIMIT_BYTES)
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "[disk_full]" in result.stderr and "Traceback" not in result.stderr
    assert not output.exists()
    assert not list(tmp_path.rglob("crops.npy"))


def test_a_checkpoint_that_does_not_fit_keeps_the_last_good_one(tmp_path: Path) -> None:
    first = LoopState(window_latents=[torch.ones(4, 4)], motion_video=None)
    with small_filesystem(tmp_path / "job") as job_dir:
        save_checkpoint(job_dir, first)
        fill(job_dir, 4096)
        big = LoopState(
            window_latents=[torch.ones(4, 4), torch.ones(64, 1024)],
            motion_video=np.zeros((8, 64, 64, 3), np.uint8),
        )
        with pytest.raises(MediaError) as caught:
            save_checkpoint(job_dir, big)
        assert caught.value.code == "disk_full"
        assert str(job_dir / CHECKPOINT_DIR) in caught.value.message
        names = sorted(p.name for p in (job_dir / CHECKPOINT_DIR).iterdir())
        assert names == ["w0001"]  # the temporary folder is gone, the old checkpoint kept
        loaded = load_checkpoint(job_dir)
        assert loaded is not None and loaded.windows_done == 1


def test_daemon_jobs_on_full_disks_fail_disk_full_and_retry_after_freeing(
    tmp_path: Path, daemon_factory, two_window_clip, short_clip, fast_options
) -> None:
    daemon = daemon_factory()
    with (
        small_filesystem(daemon.data_dir / "jobs") as jobs_dir,
        small_filesystem(tmp_path / "takes") as takes,
    ):
        daemon.start()
        with daemon.client("disk") as client:
            client.settings({"queue_paused": True})
            crops_job = client.submit(two_window_clip.otio, fast_options()).job_id
            jobs_filler = fill(jobs_dir, 600 * 1024)  # the dialogue fits, the crops do not
            client.settings({"queue_paused": False})
            crops_failed = client.wait(crops_job, 300)
            jobs_filler.unlink()
            client.settings({"queue_paused": True})
            take_job = client.submit(short_clip.otio, fast_options(output_dir=str(takes))).job_id
            takes_filler = fill(takes, 4096)  # the job folder has room, the take does not
            client.settings({"queue_paused": False})
            take_failed = client.wait(take_job, 300)
            for job, folder in ((crops_failed, jobs_dir / crops_job), (take_failed, takes)):
                assert job.state is JobState.FAILED and job.error is not None
                assert job.error.code == "disk_full", job.error
                assert str(folder) in job.error.message and "needs about" in job.error.message
            assert sorted(p.name for p in takes.iterdir()) == ["filler.bin"]  # no partial take
            assert not list(jobs_dir.rglob("crops.npy"))
            assert client.hello().pid == daemon.pid  # still serving
            takes_filler.unlink()
            for job_id in (crops_job, take_job):
                client.retry(job_id)
            assert client.wait(crops_job, 600).state is JobState.DONE
            done = client.wait(take_job, 300)
            assert done.state is JobState.DONE, done.error
        daemon.stop()
