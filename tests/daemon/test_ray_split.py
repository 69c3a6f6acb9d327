"""A split take on a real Ray farm (``xdub_daemon.farm_split``): a local Ray head started
here, a daemon with ``--backend ray --segments 2 --segment-windows 1`` and two actors on the
tiny model, a two-window clip (so two one-window segments).

The segments run on both actors at once, and the take is frame for frame the split take one
``DubPipeline.run(segments=)`` makes on one machine; an actor killed by its PID mid-segment:
the segment runs again on the other actor and the take is the same; cancel stops every part,
and a retry finishes the take, the same again.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.daemon import Clip, DaemonProcess, is_alive, make_clip
from support.ray_head import GPU_RESOURCE, RayHead
from support.takes import frames_md5

from xdub.job.result import parse_result
from xdub.protocol.messages import ProgressEvent
from xdub.protocol.records import DubOptions, JobState, Stage, VramPolicy
from xdub.sample.segments import SegmentPlan
from xdub_daemon.farm_split import DENOISE_START
from xdub_daemon.job_inputs import read_job_inputs
from xdub_daemon.wire import WorkerSpec

pytestmark = pytest.mark.ray

SIZE = (320, 192)
JOB_TIMEOUT_S = 300.0
STEPS = 4
"""Denoising steps: windows long enough to run side by side, and to be killed in."""
PART_RUNS_ON = re.compile(
    r"job (\w+) \((windows \d+-\d+|plan|assemble)\) runs on (actor-\d+) \(.*, pid (\d+)\)"
)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("split-media"), "two", 3.2, seed=5, size=SIZE)


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Iterator[DaemonProcess]:
    root = tmp_path_factory.mktemp("split-farm")
    with RayHead(num_gpus=2) as head:
        args = ["--backend", "ray", "--ray-address", head.address, "--ray-resource", GPU_RESOURCE]
        args += ["--segments", "2", "--segment-windows", "1", "--shared-dir", str(root / "shared")]
        daemon = DaemonProcess(root / "daemon", tiny_model, head.env, args)
        daemon.start()
        yield daemon
        daemon.stop()
    assert daemon.process is not None and daemon.process.returncode == 0, daemon.stderr()


def _options(fast_options: Any, out: Path) -> DubOptions:
    return fast_options(seed=7, num_steps=STEPS, output_dir=str(out))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def one_machine_take(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, clip: Clip, fast_options: Any
) -> str:
    """The frames' md5 of the split take made in one run here, from the job's own inputs
    (on one thread, as the actors run: a float sum's order depends on the threads)."""
    import torch

    from xdub.pipeline import DubPipeline

    folder = tmp_path_factory.mktemp("one-machine")
    options = _options(fast_options, folder)
    spec = WorkerSpec("ref", clip.otio, options.to_json(), folder, folder, VramPolicy.RESIDENT)
    inputs = read_job_inputs(spec, folder)
    pipeline = DubPipeline(tiny_model, device="cpu")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = pipeline.run(
            inputs.job.video_path,
            inputs.audio,
            folder / "take.mp4",
            inputs.options,
            frames=inputs.frames,
            source=inputs.source,
            segments=SegmentPlan(2, (0, 1)),
        )
    finally:
        torch.set_num_threads(threads)
    return frames_md5(result.output)


def _take(job: Any) -> Path:
    assert job.state is JobState.DONE, job.error
    return Path(parse_result(job.result_otio).take_path)


def _part_runs(daemon: DaemonProcess, job_id: str) -> list[tuple[str, str, int]]:
    """(part, actor, pid) of every part of the job the daemon placed, in order."""
    found = PART_RUNS_ON.findall(daemon.log_text())
    return [(part, actor, int(pid)) for job, part, actor, pid in found if job == job_id]


def _wait_for_segments(client: Any, job_id: str) -> None:
    """Until a segment has denoised a step (both segments are placed then)."""
    for event in client.events(JOB_TIMEOUT_S, [job_id]):
        progress = event.content.progress if isinstance(event.content, ProgressEvent) else None
        if progress is not None and progress.stage is Stage.DENOISE:
            if progress.fraction > DENOISE_START:
                return
    raise AssertionError(f"job {job_id} never started denoising")


def test_the_segments_run_on_both_actors_at_once_and_make_the_one_machine_split_take(
    farm: DaemonProcess, clip: Clip, fast_options: Any, one_machine_take: str, tmp_path: Path
) -> None:
    with farm.client() as client:
        job_id = client.submit(clip.otio, _options(fast_options, tmp_path)).job_id
        done = client.wait(job_id, JOB_TIMEOUT_S)
    assert frames_md5(_take(done)) == one_machine_take
    runs = _part_runs(farm, job_id)
    assert [part for part, _, _ in runs] == ["plan", "windows 0-1", "windows 1-2", "assemble"]
    assert runs[1][1] != runs[2][1]  # the two segments on the two actors
    log = farm.log_text()
    second_placed = log.index(f"job {job_id} (windows 1-2) runs on")
    assert second_placed < log.index(f"job {job_id} (windows 0-1) done on")  # at once
    assert second_placed < log.index(f"job {job_id} (windows 1-2) done on")
    assert "split into windows [(0, 1), (1, 2)]" in farm.log_text("worker.log")


def test_a_killed_actor_s_segment_runs_again_and_the_take_is_the_same(
    farm: DaemonProcess, clip: Clip, fast_options: Any, one_machine_take: str, tmp_path: Path
) -> None:
    with farm.client() as client:
        job_id = client.submit(clip.otio, _options(fast_options, tmp_path)).job_id
        _wait_for_segments(client, job_id)
        [(actor, pid)] = [
            (a, p) for part, a, p in _part_runs(farm, job_id) if part == "windows 1-2"
        ]
        runner = client.get(job_id).runner or ""
        assert f"{actor}@" in runner and ", " in runner  # the tray names both actors
        os.kill(pid, signal.SIGKILL)
        done = client.wait(job_id, JOB_TIMEOUT_S)
    assert not is_alive(pid)
    assert frames_md5(_take(done)) == one_machine_take
    again = [(a, p) for part, a, p in _part_runs(farm, job_id) if part == "windows 1-2"]
    assert len(again) == 2 and again[1][1] != pid, again  # placed again, on a live actor
    assert f"job {job_id} runs again on the next free actor" in farm.log_text()


def test_cancel_stops_every_part_and_a_retry_makes_the_same_take(
    farm: DaemonProcess, clip: Clip, fast_options: Any, one_machine_take: str, tmp_path: Path
) -> None:
    with farm.client() as client:
        job_id = client.submit(clip.otio, _options(fast_options, tmp_path)).job_id
        _wait_for_segments(client, job_id)
        assert client.cancel(job_id) is JobState.CANCELLED
        deadline = time.monotonic() + 60  # each actor stops its segment within a step
        while farm.log_text("worker.log").count(f"[job {job_id}] cancelled") < 2:
            assert time.monotonic() < deadline, "an actor did not stop its segment"
            time.sleep(0.1)
        assert client.get(job_id).state is JobState.CANCELLED  # no part's report revived it
        assert client.retry(job_id) is JobState.QUEUED
        done = client.wait(job_id, JOB_TIMEOUT_S)
    assert frames_md5(_take(done)) == one_machine_take
