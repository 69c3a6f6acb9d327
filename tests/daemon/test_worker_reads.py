"""A daemon job's take reads its source twice: one probe (frame range and take plan share it)
and one decode for landmarks, crops and paste-back (the frame spool); where the work folder
has no room for the spool, a second decode. (The quality check after the take compares it
with the source on its own read, issue 17; not counted.)"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest
from support.daemon import Clip
from support.reads import ReadCounter

from xdub.media.probe import probe
from xdub.pipeline import DubPipeline
from xdub.protocol.records import VramPolicy
from xdub_daemon import worker
from xdub_daemon.logs import JobLog
from xdub_daemon.worker import WorkerSpec, _dub


class _Messages:
    """Stands in for the worker's report sink: keeps what the job sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []

    def send(self, *message: Any) -> None:
        self.sent.append(message)


@pytest.mark.parametrize(("spool", "decodes"), [("auto", 1), ("off", 2)])
def test_a_job_probes_once_and_decodes_its_source_once_or_without_a_spool_twice(
    tiny_model: Path,
    short_clip: Clip,
    fast_options: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    spool: str,
    decodes: int,
) -> None:
    pipeline = DubPipeline(tiny_model, device="cpu", precision="fp32", spool=spool)
    num_frames = probe(short_clip.video).num_frames
    spec = WorkerSpec(
        "job-1",
        short_clip.otio,
        fast_options().to_json(),
        tmp_path / "job",
        tmp_path / "take.mp4",
        VramPolicy.RESIDENT,
    )
    spec.job_dir.mkdir()
    monkeypatch.setattr(worker, "_quality", lambda *args: {})
    reads = ReadCounter().install(monkeypatch)
    messages = _Messages()
    job_log = JobLog(logging.getLogger("test"), spec.job_id)
    _dub(pipeline, spec, threading.Event(), messages.send, job_log)
    video = short_clip.video.resolve()
    assert reads.opens[video] == 1 + decodes and reads.seeks[video] == 0
    assert reads.frames[video] == decodes * num_frames  # 25 fps: every frame is a model frame
    assert spec.output.is_file() and probe(spec.output).num_frames == num_frames
