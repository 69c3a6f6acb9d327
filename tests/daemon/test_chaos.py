"""Chaos: 20 rounds of kill -9 (by pid) of the worker or the daemon at random windows and
denoising steps of two-window jobs, restarting as a user would (``xdub daemon start`` after a
dead daemon; ``retry`` after a dead worker's ``worker_crashed``).

Every job ends done with a take frame-identical (md5 of the decoded frames) to the
uninterrupted take of the same job; no worker (or other child of a killed daemon) outlives it;
no job folder is left behind for a finished job. The kill points come from the progress events
the test watches, never from sleeps. ``XDUB_CHAOS_SEED`` replays a run (the seed is printed).
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from support.daemon import Clip, DaemonProcess, child_pids, is_alive

from xdub.client import DaemonClient
from xdub.protocol.messages import JobStateEvent, ProgressEvent
from xdub.protocol.records import Codec, DubOptions, JobState, Progress, Stage

ROUNDS = 20
JOB_SEEDS = (7, 8)
"""Two jobs (the same clip, other seeds), ``ROUNDS / 2`` kills each."""
NUM_STEPS = 4
EVENT_TIMEOUT_S = 300.0
EXIT_TIMEOUT_S = 20.0


@dataclass
class Kill:
    round: int
    target: str
    job_id: str
    at: Progress


def _take_md5(info_otio: str | None) -> str:
    """md5 over the decoded RGB frames of the take a result OTIO points at."""
    from xdub.job.result import parse_result
    from xdub.media.decode import iter_frames

    assert info_otio is not None
    digest = hashlib.md5()
    count = 0
    for frame in iter_frames(parse_result(info_otio).take_path):
        digest.update(frame.rgb.tobytes())
        count += 1
    return f"{digest.hexdigest()}/{count}"


def _kill_point(client: DaemonClient, job_id: str, rng: random.Random) -> Progress | None:
    """Watch ``job_id`` until the denoising point drawn at its first denoising event: a window
    it still has to do and a step before that window's last. None when the job is done first
    (a kill that landed late, after the last window's checkpoint, leaves it nothing to
    denoise)."""
    target: tuple[int, int] | None = None
    for event in client.events(EVENT_TIMEOUT_S, [job_id]):
        content = event.content
        if isinstance(content, JobStateEvent) and content.state.is_terminal:
            assert content.state is JobState.DONE, content.error
            return None
        if not isinstance(content, ProgressEvent) or content.progress.stage is not Stage.DENOISE:
            continue
        progress = content.progress
        if progress.clip < 1:  # the stage's start, before its first step
            continue
        if target is None:
            target = (rng.randint(progress.clip, progress.num_clips), rng.randint(1, NUM_STEPS - 1))
        if (progress.clip, progress.step) >= target:
            return progress
    raise AssertionError(f"job {job_id} sent no denoising progress in {EVENT_TIMEOUT_S:g} s")


def _stored_state(daemon: DaemonProcess, job_id: str) -> str:
    with closing(sqlite3.connect(daemon.data_dir / "jobs.sqlite3")) as db:
        row = db.execute("SELECT state FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
    return str(row[0])


def _wait_dead(pids: set[int]) -> set[int]:
    """The ``pids`` still alive after ``EXIT_TIMEOUT_S``."""
    deadline = time.monotonic() + EXIT_TIMEOUT_S
    while (alive := {pid for pid in pids if is_alive(pid)}) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def _kill_round(
    daemon: DaemonProcess, job_id: str, round_index: int, rng: random.Random
) -> tuple[Kill, set[int]] | None:
    """One round: kill the worker or the daemon at a drawn point of ``job_id`` and bring the
    job back as a user would. Returns the kill and the processes that must die with it, or
    None when the job was done before the point came."""
    target = rng.choice(("worker", "daemon"))
    with daemon.client("chaos", timeout_s=30.0) as client:
        at = _kill_point(client, job_id, rng)
        if at is None:
            return None
        children = set(child_pids(daemon.pid))
        if target == "worker":
            victim = daemon.worker_pid()
            os.kill(victim, signal.SIGKILL)
            failed = client.wait(job_id, EVENT_TIMEOUT_S)
            assert failed.state is JobState.FAILED and failed.error is not None, failed
            assert failed.error.code == "worker_crashed", failed.error
            assert client.retry(job_id) is JobState.QUEUED
            return Kill(round_index, target, job_id, at), {victim}
    daemon.kill9()
    assert _stored_state(daemon, job_id) == "running", "the kill came after the job ended"
    daemon.start()  # the user starts the daemon again; the job resumes by itself
    return Kill(round_index, target, job_id, at), children


def test_kill_9_chaos_every_job_done_identical_takes_no_orphans(
    daemon_factory, two_window_clip: Clip, tmp_path: Path
) -> None:
    seed = int(os.environ.get("XDUB_CHAOS_SEED") or random.SystemRandom().randrange(2**31))
    print(f"chaos seed {seed} (XDUB_CHAOS_SEED={seed} replays it)")
    rng = random.Random(seed)
    takes = tmp_path / "takes"
    options = {
        job_seed: DubOptions(
            codec=Codec.PRORES_HQ, num_steps=NUM_STEPS, seed=job_seed, output_dir=str(takes)
        )
        for job_seed in JOB_SEEDS
    }
    daemon = daemon_factory()
    daemon.start()
    started_s = time.monotonic()
    with daemon.client("reference") as client:
        references = {
            job_seed: client.wait(client.submit(two_window_clip.otio, job_options).job_id, 600)
            for job_seed, job_options in options.items()
        }
    assert {info.state for info in references.values()} == {JobState.DONE}
    reference_md5 = {job_seed: _take_md5(info.result_otio) for job_seed, info in references.items()}
    assert len(set(reference_md5.values())) == len(JOB_SEEDS), "the seeds made the same take"

    kills: list[Kill] = []
    must_die: set[int] = set()
    chaos_jobs: list[tuple[int, str]] = []

    def submit(job_seed: int) -> str:
        with daemon.client("chaos") as client:
            job_id = client.submit(two_window_clip.otio, options[job_seed]).job_id
        chaos_jobs.append((job_seed, job_id))
        return job_id

    for job_seed in JOB_SEEDS:  # ROUNDS / 2 kills for each seed's job
        job_id, seed_kills = submit(job_seed), 0
        while seed_kills < ROUNDS // len(JOB_SEEDS):
            round_over = _kill_round(daemon, job_id, len(kills), rng)
            if round_over is None:  # done before its kill point: a new job of the seed
                job_id = submit(job_seed)
                continue
            kill, doomed = round_over
            kills.append(kill)
            must_die |= doomed
            seed_kills += 1
            print(
                f"round {kill.round:2d} at {time.monotonic() - started_s:4.0f} s: killed the "
                f"{kill.target} in window {kill.at.clip}/{kill.at.num_clips} after step "
                f"{kill.at.step} of job {job_id}"
            )
    with daemon.client("chaos") as client:
        for job_seed, job_id in chaos_jobs:
            done = client.wait(job_id, 600)
            assert done.state is JobState.DONE, done.error
            assert _take_md5(done.result_otio) == reference_md5[job_seed], f"chaos seed {seed}"
    print(f"{len(kills)} rounds in {time.monotonic() - started_s:.0f} s")

    assert len(kills) == ROUNDS
    assert {kill.target for kill in kills} <= {"worker", "daemon"}
    assert _wait_dead(must_die) == set(), "children of a killed daemon outlived it"
    jobs_dir = daemon.data_dir / "jobs"
    finished = [job_id for _, job_id in chaos_jobs] + [info.job_id for info in references.values()]
    assert [job_id for job_id in finished if (jobs_dir / job_id).exists()] == []
    live_worker = daemon.worker_pid()
    daemon.stop()
    assert _wait_dead({live_worker}) == set(), "the worker outlived a stopped daemon"
