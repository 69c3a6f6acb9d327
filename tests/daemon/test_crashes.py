"""Crashes: kill -9 of the daemon mid-take resumes to the same take; a dead or out-of-memory
worker fails its job clearly, is restarted, and the queue goes on."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import numpy as np
from support.daemon import is_alive

from xdub.protocol.messages import ProgressEvent
from xdub.protocol.records import Codec, JobState, Progress


def _wait_for_progress(client, job_id: str, *, clip: int) -> Progress:
    for event in client.events(300.0, [job_id]):
        content = event.content
        if isinstance(content, ProgressEvent) and content.progress.clip >= clip:
            return content.progress
    raise AssertionError(f"job {job_id} never reached window {clip}")


def _frames(path: Path) -> np.ndarray:
    from xdub.media.decode import iter_frames

    return np.stack([frame.rgb for frame in iter_frames(path)])


def test_daemon_killed_in_window_2_of_4_resumes_to_the_same_take(
    daemon_factory, four_window_clip, fast_options
) -> None:
    clip = four_window_clip
    # 8 steps: a window 2 long enough to be killed in. ProRes is intra-only, so equal frames
    # decode equal.
    options = fast_options(num_steps=8, codec=Codec.PRORES_HQ)
    daemon = daemon_factory()
    daemon.start()
    with daemon.client("resumer") as client:
        job_id = client.submit(clip.otio, options).job_id
        worker = daemon.worker_pid()
        assert _wait_for_progress(client, job_id, clip=2).num_clips == 4
        daemon.kill9()
        deadline = time.monotonic() + 20
        while is_alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not is_alive(worker), "the orphaned worker kept running"
        checkpoints = sorted((daemon.data_dir / "jobs" / job_id / "checkpoint").iterdir())
        assert [item.name for item in checkpoints] == ["track.npz", "w0001"]

        daemon.start()  # a fresh daemon over the same store; the client follows it
        resumed = client.wait(job_id, 600)
        assert resumed.state is JobState.DONE, resumed.error
        assert f"[job {job_id}] resuming from window 1" in daemon.log_text("worker.log")
        assert "face track read from" in daemon.log_text("worker.log")  # not tracked again

        db = sqlite3.connect(daemon.data_dir / "jobs.sqlite3")
        attempts = db.execute("SELECT attempts FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        assert attempts == (2,)
        db.close()
        reference = client.wait(client.submit(clip.otio, options).job_id, 600)
    assert reference.state is JobState.DONE, reference.error
    from xdub.job.result import parse_result
    from xdub.media.probe import probe

    assert resumed.result_otio is not None and reference.result_otio is not None
    resumed_frames = _frames(parse_result(resumed.result_otio).take_path)
    reference_frames = _frames(parse_result(reference.result_otio).take_path)
    assert resumed_frames.shape[0] == probe(clip.video).num_frames
    np.testing.assert_array_equal(resumed_frames, reference_frames)


def test_dead_or_out_of_memory_worker_fails_its_job_and_the_queue_goes_on(
    daemon_factory, two_window_clip, short_clip, fast_options
) -> None:
    two_windows = two_window_clip
    daemon = daemon_factory({"XDUB_TEST_WORKER_FAULT": "oom_at_window:1"})
    daemon.start()
    with daemon.client("crasher") as client:
        out_of_memory = client.submit(two_windows.otio, fast_options()).job_id
        after_oom = client.submit(short_clip.otio, fast_options()).job_id
        # 30 steps: a run long enough to be killed in (one step can end before the kill)
        killed = client.submit(short_clip.otio, fast_options(seed=8, num_steps=30)).job_id
        after_kill = client.submit(short_clip.otio, fast_options(seed=9)).job_id

        failed = client.wait(out_of_memory, 300)
        assert failed.state is JobState.FAILED and failed.error is not None
        assert failed.error.code == "out_of_memory"
        assert "ran out of memory" in failed.error.message
        assert client.wait(after_oom, 300).state is JobState.DONE

        deadline = time.monotonic() + 300
        while client.get(killed).state is not JobState.RUNNING and time.monotonic() < deadline:
            time.sleep(0.05)  # polled: events published before this client subscribed are gone
        os.kill(daemon.worker_pid(), signal.SIGKILL)
        crashed = client.wait(killed, 300)
        assert crashed.state is JobState.FAILED and crashed.error is not None
        assert crashed.error.code == "worker_crashed"
        assert "died" in crashed.error.message and crashed.error.hint
        done = client.wait(after_kill, 300)
        assert done.state is JobState.DONE, done.error
        assert client.retry(killed) is JobState.QUEUED
        assert client.wait(killed, 300).state is JobState.DONE
