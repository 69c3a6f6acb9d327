"""The Ray backend for real: a local Ray head started here (``support.ray_head``), a daemon with
``--backend ray`` and two actors on the tiny model, jobs on generated 320x192 media.

Six jobs all done, each take md5-identical to the local backend's take of the same job; one
model load per actor; an actor killed by its PID mid-job: the job resumes on the other actor
from its last finished window, with the same take; Ray not importable: a clear error.
``-m ray`` selects these tests, ``-m "not ray"`` skips them.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.daemon import Clip, DaemonProcess, is_alive, make_clip
from support.ray_head import GPU_RESOURCE, RayHead

from xdub.protocol.connection import read_connection_file
from xdub.protocol.messages import ProgressEvent, WorkerHealthEvent
from xdub.protocol.records import JobState

pytestmark = pytest.mark.ray

SIZE = (320, 192)
NUM_ACTORS = 2
JOB_TIMEOUT_S = 300.0
RUNS_ON = re.compile(r"job (\w+) runs on (actor-\d+) \(.*, pid (\d+)\)")


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Clip]:
    """Two windows (3.2 s) and one window (1.2 s), 320x192."""
    folder = tmp_path_factory.mktemp("farm-media")
    return [
        make_clip(folder, "two", 3.2, seed=5, size=SIZE),
        make_clip(folder, "one", 1.2, seed=3, size=SIZE),
    ]


def _jobs(clips: list[Clip]) -> list[tuple[Clip, int, int]]:
    """Six jobs (clip, seed, steps), and last the job an actor is killed in (8 steps: a
    second window long enough to be killed in)."""
    two, one = clips
    six = [(two, 1, 1), (one, 1, 1), (two, 2, 1), (one, 2, 1), (one, 3, 1), (two, 3, 1)]
    return [*six, (two, 4, 8)]


def _submit(client: Any, job: tuple[Clip, int, int], fast_options: Any, out: Path) -> str:
    clip, seed, steps = job
    options = fast_options(seed=seed, num_steps=steps, output_dir=str(out))
    return str(client.submit(clip.otio, options).job_id)


def _run_jobs(
    daemon: DaemonProcess, jobs: list[tuple[Clip, int, int]], fast_options: Any, out: Path
) -> list[Any]:
    """Submit every job at once and wait for all of them."""
    with daemon.client() as client:
        ids = [_submit(client, job, fast_options, out) for job in jobs]
        return [client.wait(job_id, JOB_TIMEOUT_S) for job_id in ids]


def _take(job: Any) -> Path:
    from xdub.job.result import parse_result

    assert job.state is JobState.DONE, job.error
    return Path(parse_result(job.result_otio).take_path)


@pytest.fixture(scope="module")
def ray_head() -> Iterator[RayHead]:
    with RayHead(num_gpus=NUM_ACTORS) as head:
        yield head


@pytest.fixture(scope="module")
def local_takes(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, clips: list[Clip], fast_options
) -> list[str]:
    """The md5 of each job's take from a daemon with the local backend."""
    root = tmp_path_factory.mktemp("local")
    daemon = DaemonProcess(root / "daemon", tiny_model)
    daemon.start()
    try:
        jobs = _run_jobs(daemon, _jobs(clips), fast_options, root / "takes")
    finally:
        daemon.stop()
    return [_md5(_take(job)) for job in jobs]


@pytest.fixture(scope="module")
def farm(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, ray_head: RayHead
) -> Iterator[DaemonProcess]:
    """A daemon with ``--backend ray`` on the test head: two actors."""
    root = tmp_path_factory.mktemp("farm")
    env = {**ray_head.env, "XDUB_TEST_FARM_LOADS": str(root / "loads.txt")}
    shared = root / "shared"  # the job folders: checkpoints every actor reads
    args = [*_farm_args(ray_head, GPU_RESOURCE), "--shared-dir", str(shared)]
    daemon = DaemonProcess(root / "daemon", tiny_model, env, args)
    daemon.start()
    yield daemon
    daemon.stop()
    assert daemon.process is not None and daemon.process.returncode == 0, daemon.stderr()


def _farm_args(head: RayHead, resource: str) -> list[str]:
    """A farm daemon's arguments: actors on ``head`` that each need one ``resource``."""
    return ["--backend", "ray", "--ray-address", head.address, "--ray-resource", resource]


def _loads(daemon: DaemonProcess) -> list[int]:
    path = Path(daemon.env["XDUB_TEST_FARM_LOADS"])
    return [int(line) for line in path.read_text().split()] if path.is_file() else []


def _wait_for_window(client: Any, job_id: str, window: int) -> None:
    """Until the job's progress is in ``window`` (1-based): the windows before are saved."""
    for event in client.events(JOB_TIMEOUT_S, [job_id]):
        content = event.content
        if isinstance(content, ProgressEvent) and content.progress.clip >= window:
            return
    raise AssertionError(f"job {job_id} never reached window {window}")


def _runs(daemon: DaemonProcess) -> list[tuple[str, str, int]]:
    """(job id, actor, actor pid) of every dispatch the daemon logged, in order."""
    return [(job, actor, int(pid)) for job, actor, pid in RUNS_ON.findall(daemon.log_text())]


def test_six_jobs_on_two_actors_match_the_local_backend_and_load_the_models_once_per_actor(
    farm: DaemonProcess, clips: list[Clip], fast_options, local_takes: list[str], tmp_path: Path
) -> None:
    jobs = _run_jobs(farm, _jobs(clips)[:6], fast_options, tmp_path)
    assert [_md5(_take(job)) for job in jobs] == local_takes[:6]
    runs = _runs(farm)
    assert {actor for _, actor, _ in runs} == {"actor-0", "actor-1"}  # both actors worked
    assert len(_loads(farm)) == NUM_ACTORS  # models loaded once per actor, never per job
    with farm.client() as client:
        assert client.hello().device.startswith(f"ray: {NUM_ACTORS} actors")


def test_a_killed_actor_s_job_resumes_on_the_other_actor_from_its_last_window(
    farm: DaemonProcess, clips: list[Clip], fast_options, local_takes: list[str], tmp_path: Path
) -> None:
    with farm.client() as client:
        job_id = _submit(client, _jobs(clips)[6], fast_options, tmp_path)
        _wait_for_window(client, job_id, 2)  # window 1 is saved
        shared_job_dir = Path(farm.extra_args[-1]) / "jobs" / job_id
        assert (shared_job_dir / "checkpoint" / "w0001").is_dir()  # in --shared-dir
        [(actor, pid)] = [(a, p) for job, a, p in _runs(farm) if job == job_id]
        assert (client.get(job_id).runner or "").startswith(f"{actor}@")  # what the tray shows
        os.kill(pid, signal.SIGKILL)
        done = client.wait(job_id, JOB_TIMEOUT_S)
    assert not is_alive(pid)
    assert _md5(_take(done)) == local_takes[6]  # identical to an uninterrupted take
    runs = [(a, p) for job, a, p in _runs(farm) if job == job_id]
    assert len(runs) == 2 and runs[1][0] != actor, runs  # finished on another actor
    log = farm.log_text()
    assert f"job {job_id} resumed from window 1" in log  # resumed, not restarted
    assert f"job {job_id} runs again on the next free actor" in log


def test_cancel_and_retry_on_the_farm_behave_as_on_the_local_backend(
    farm: DaemonProcess, clips: list[Clip], fast_options, local_takes: list[str], tmp_path: Path
) -> None:
    with farm.client() as client:
        job_id = _submit(client, _jobs(clips)[6], fast_options, tmp_path)
        _wait_for_window(client, job_id, 2)
        assert client.cancel(job_id) is JobState.CANCELLED
        assert client.wait(job_id, 10).state is JobState.CANCELLED  # this client saw it
        deadline = time.monotonic() + 60  # the actor stops it within a denoising step
        while f"[job {job_id}] cancelled" not in farm.log_text("worker.log"):
            assert time.monotonic() < deadline, "the actor did not stop the cancelled job"
            time.sleep(0.1)
        assert client.retry(job_id) is JobState.QUEUED
        done = client.wait(job_id, JOB_TIMEOUT_S)  # the new run, not the cancelled one
    assert _md5(_take(done)) == local_takes[6]
    assert f"job {job_id} resumed from window 1" in farm.log_text()


def test_without_gpu_resources_jobs_stay_queued_and_the_daemon_says_why(
    tmp_path: Path, tiny_model: Path, ray_head: RayHead, clips: list[Clip], fast_options
) -> None:
    args = _farm_args(ray_head, "no_such_gpu")
    daemon = DaemonProcess(tmp_path / "daemon", tiny_model, ray_head.env, args)
    daemon.start(wait_models=False)
    try:
        with daemon.client() as client:
            job_id = _submit(client, _jobs(clips)[1], fast_options, tmp_path)
            health = next(
                event.content
                for event in client.events(30.0)
                if isinstance(event.content, WorkerHealthEvent)
            )
            assert health.message is not None and "[no_farm_gpus]" in health.message
            assert health.actors_alive == 0
            assert "no_farm_gpus" in client.hello().device  # what `xdub daemon status` prints
            assert client.get(job_id).state is JobState.QUEUED
    finally:
        daemon.stop()


def test_without_ray_daemon_start_with_the_ray_backend_says_how_to_install_it(
    tmp_path: Path,
) -> None:
    """A Python whose path lacks Ray (a copy of the shared site-packages without it)."""
    spec = importlib.util.find_spec("ray")  # found, not imported
    assert spec is not None and spec.origin is not None
    shared = Path(spec.origin).resolve().parents[1]
    view = tmp_path / "site-packages"
    view.mkdir()
    for entry in shared.iterdir():
        if entry.name != "ray" and not entry.name.startswith("ray-"):
            (view / entry.name).symlink_to(entry)
    code = (
        "import sys\n"
        f"sys.path[:] = [{str(view)!r} if p == {str(shared)!r} else p for p in sys.path]\n"
        "from xdub.cli import main\n"
        "sys.exit(main(['daemon', 'start', '--backend', 'ray']))\n"
    )
    env = {**os.environ, "XDUB_CONNECTION_FILE": str(tmp_path / "run" / "daemon.json")}
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 2, run.stderr
    assert "[farm_missing]" in run.stderr
    assert "pip install 'xdub[farm]'" in run.stderr


def test_an_unreachable_cluster_is_a_clear_error_at_start(tmp_path: Path, tiny_model: Path) -> None:
    """``xdub daemon start --backend ray`` on an address where no Ray runs: the detached daemon
    exits and ``start`` prints its ``farm_unreachable`` error with the hint."""
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{sock.getsockname()[1]}"
    env = {
        **os.environ,
        "XDUB_CONNECTION_FILE": str(tmp_path / "run" / "daemon.json"),
        "XDUB_DATA_DIR": str(tmp_path / "data"),
        "XDUB_LOG_DIR": str(tmp_path / "logs"),
    }
    command = [sys.executable, "-c", "import sys; from xdub.cli import main; sys.exit(main())"]
    command += ["daemon", "start", "--model", str(tiny_model), "--device", "cpu"]
    command += ["--backend", "ray", "--ray-address", address]
    try:
        run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    finally:  # a daemon that did not give up must not outlive the test
        pid_file = Path(env["XDUB_CONNECTION_FILE"])
        if pid_file.is_file():
            with contextlib.suppress(ProcessLookupError):
                os.kill(read_connection_file(pid_file).pid, signal.SIGKILL)
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"[farm_unreachable] cannot connect to the Ray cluster at '{address}'" in run.stdout
    assert "hint: start it (`ray start --head`" in run.stdout
