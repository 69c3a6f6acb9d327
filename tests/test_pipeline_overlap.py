"""The streamed take: one source decode for landmarks, crops and paste-back (the frame spool),
and overlapped stages that give the same take as the sequential path, and stop cleanly when
cancelled in any stage."""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import pytest
from support.reads import ReadCounter
from support.takes import ONE_STEP, frames_md5, tiny_clip

from xdub.errors import JobCancelled
from xdub.media.probe import scan_media
from xdub.pipeline import DubPipeline
from xdub.protocol.records import Progress, Stage, VramPolicy


@pytest.fixture(scope="module")
def pipeline(tiny_model_dir: Path) -> DubPipeline:
    return DubPipeline(tiny_model_dir, device="cpu", precision="fp32")


@pytest.mark.timeout(1800)  # three 2-window takes; minutes on a loaded 2-core machine
def test_the_overlapped_take_is_the_sequential_take_from_one_decode(
    pipeline: DubPipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also under ``low_vram``, where each window decodes after the DiT went home."""
    video, audio = tiny_clip(tmp_path, 3.3, Fraction(24000, 1001))  # 79 frames, 2 windows
    source = scan_media(video)
    reads = ReadCounter().install(monkeypatch)
    runs = [(False, VramPolicy.RESIDENT), (True, VramPolicy.RESIDENT), (True, VramPolicy.LOW_VRAM)]
    md5s = []
    try:
        for overlap, policy in runs:
            pipeline.overlap = overlap
            pipeline.models.residency.set_policy(policy)
            output = tmp_path / f"take-{overlap}-{policy.value}.mp4"
            result = pipeline.run(video, audio, output, ONE_STEP, source=source)
            assert result.num_windows == 2 and result.num_frames == source.info.num_frames
            md5s.append(frames_md5(output))
    finally:
        pipeline.overlap = True
        pipeline.models.residency.set_policy(VramPolicy.RESIDENT)
    path = video.resolve()
    # per take: one decode for landmarks, crops and paste-back (the spool), no seek
    assert reads.opens[path] == len(runs) and reads.seeks[path] == 0
    assert reads.frames[path] == len(runs) * source.info.num_frames
    assert len(set(md5s)) == 1


@pytest.mark.parametrize("stage", [Stage.DENOISE, Stage.WRITE_TAKE])
@pytest.mark.parametrize("overlap", [False, True])
def test_a_cancel_in_any_stage_stops_the_take_and_leaves_no_file(
    pipeline: DubPipeline, tmp_path: Path, stage: Stage, overlap: bool
) -> None:
    video, audio = tiny_clip(tmp_path, 0.4, Fraction(25))
    output = tmp_path / "take.mp4"
    cancel = threading.Event()

    def on_progress(progress: Progress) -> None:
        if progress.stage is stage:
            cancel.set()

    threads_before = threading.active_count()
    pipeline.overlap = overlap
    try:
        with pytest.raises(JobCancelled):
            pipeline.run(video, audio, output, ONE_STEP, on_progress=on_progress, cancel=cancel)
    finally:
        pipeline.overlap = True
    assert threading.active_count() == threads_before
    assert set(tmp_path.iterdir()) == {video, audio}  # no take, no partial file


def test_a_stored_crop_track_makes_the_same_take_from_one_decode(
    pipeline: DubPipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Make final``'s path: the take of an earlier crop track skips face tracking."""
    video, audio = tiny_clip(tmp_path, 0.4, Fraction(25))
    source = scan_media(video)
    tracked = pipeline.run(video, audio, tmp_path / "tracked.mp4", ONE_STEP, source=source)
    assert tracked.track is not None
    reads = ReadCounter().install(monkeypatch)
    reused = pipeline.run(
        video, audio, tmp_path / "reused.mp4", ONE_STEP, source=source, track=tracked.track
    )
    path = video.resolve()
    assert reads.opens[path] == 1 and reads.frames[path] == source.info.num_frames
    assert reused.track is tracked.track
    assert frames_md5(reused.output) == frames_md5(tracked.output)
