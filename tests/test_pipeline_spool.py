"""The take decodes its source once where the work folder has room for the frame spool, and
twice (the fallback) where it has not: the same take either way, frame for frame."""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import pytest
from support.reads import ReadCounter
from support.small_fs import fill, small_filesystem
from support.takes import ONE_STEP, frames_md5, tiny_clip

from xdub.errors import JobCancelled
from xdub.media.probe import scan_media
from xdub.pipeline import DubPipeline
from xdub.protocol.records import Progress, Stage
from xdub.take_plan import plan_take
from xdub.take_source import SPOOL_NAME


@pytest.fixture(scope="module")
def pipeline(tiny_model_dir: Path) -> DubPipeline:
    return DubPipeline(tiny_model_dir, device="cpu", precision="fp32")


@pytest.mark.timeout(1200)
@pytest.mark.parametrize(
    ("fps", "frames"), [(Fraction(30), (4, 22)), (Fraction(30000, 1001), (0, 30))]
)
def test_the_spooled_take_is_the_two_decode_take_from_one_decode(
    pipeline: DubPipeline,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fps: Fraction,
    frames: tuple[int, int],
) -> None:
    """30 and 29.97 fps sources, where model frames drop; a frame range starting past 0."""
    video, audio = tiny_clip(tmp_path, 1.0, fps)
    source = scan_media(video)
    plan = plan_take(source, frames)
    first, count = frames
    path = video.resolve()
    md5s = []
    for spool, decoded in [
        ("on", first + count),
        ("off", plan.model_sources[-1] + 1 + first + count),
    ]:
        pipeline.spool = spool
        reads = ReadCounter().install(monkeypatch)
        try:
            output = tmp_path / f"take-{spool}.mp4"
            result = pipeline.run(video, audio, output, ONE_STEP, source=source, frames=frames)
        finally:
            pipeline.spool = "auto"
            monkeypatch.undo()
        assert result.num_frames == count
        assert reads.seeks[path] == 0 and reads.frames[path] == decoded
        assert reads.opens[path] == (1 if spool == "on" else 2)
        md5s.append(frames_md5(output))
    assert md5s[0] == md5s[1]


def test_a_cancel_while_the_spool_is_in_use_leaves_no_spool_file(
    pipeline: DubPipeline, tmp_path: Path
) -> None:
    video, audio = tiny_clip(tmp_path, 0.4, Fraction(25))
    pipeline.work_dir = work = tmp_path / "work"
    work.mkdir()
    cancel = threading.Event()
    spooled: list[Path] = []

    def on_progress(progress: Progress) -> None:
        if progress.stage is Stage.DENOISE and not cancel.is_set():
            spooled.extend(work.glob(f"*/{SPOOL_NAME}"))
            cancel.set()

    try:
        with pytest.raises(JobCancelled):
            pipeline.run(
                video,
                audio,
                tmp_path / "take.mp4",
                ONE_STEP,
                on_progress=on_progress,
                cancel=cancel,
            )
    finally:
        pipeline.work_dir = None
    assert len(spooled) == 1  # the take was spooling when it was cancelled
    assert list(work.iterdir()) == [] and not spooled[0].exists()


def test_a_work_folder_too_small_for_the_spool_decodes_twice_and_makes_the_same_take(
    pipeline: DubPipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    video, audio = tiny_clip(tmp_path, 1.0, Fraction(30))  # spool 830 KB, ring 830 KB, crops 310 KB
    source = scan_media(video)
    spooled = pipeline.run(video, audio, tmp_path / "spooled.mp4", ONE_STEP, source=source)
    with small_filesystem(tmp_path / "small") as small:
        fill(small, 1400 * 1024)  # room for ring + crops, the spool would take over half
        pipeline.work_dir = small
        reads = ReadCounter().install(monkeypatch)
        try:
            fallback = pipeline.run(
                video, audio, tmp_path / "fallback.mp4", ONE_STEP, source=source
            )
        finally:
            pipeline.work_dir = None
        assert sorted(p.name for p in small.iterdir()) == ["filler.bin"]
    landmark_pass = plan_take(source, None).model_sources[-1] + 1  # stops at the last model frame
    assert reads.frames[video.resolve()] == landmark_pass + source.info.num_frames
    assert frames_md5(fallback.output) == frames_md5(spooled.output)
