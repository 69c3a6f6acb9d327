"""Small daemon defects of issue 21.6, each on a real daemon: stale partial takes, the warning
for dialogue cut to the clip, and ipc socket files after a stop."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from support.daemon import DaemonProcess, make_clip

from xdub.cli.jobs import whole_file_job
from xdub.protocol.records import JobState


def test_partials_left_by_a_killed_writer_go_at_start_and_others_stay(
    daemon_factory, short_clip, fast_options, tmp_path: Path
) -> None:
    takes = tmp_path / "takes"
    takes.mkdir()
    daemon = daemon_factory()
    daemon.start()
    with daemon.client() as client:
        client.settings({"queue_paused": True})
        job_id = client.submit(short_clip.otio, fast_options(output_dir=str(takes))).job_id
    daemon.stop()
    stem = f"{short_clip.video.stem}-{job_id}"
    stale = takes / f".{stem}.partial-0badf00d.mp4"  # what a write killed by -9 leaves
    stale.write_bytes(b"\0" * 1000)
    foreign = takes / ".someone-else.partial-12345678.mp4"
    foreign.write_bytes(b"x")
    daemon.start()
    assert not stale.exists()
    assert foreign.exists()  # not a take of this daemon's jobs: not its to delete
    with daemon.client() as client:
        client.settings({"queue_paused": False})
        assert client.wait(job_id, 300).state is JobState.DONE
    assert sorted(p.name for p in takes.iterdir()) == [foreign.name, f"{stem}.mp4"]


def test_dialogue_longer_than_the_clip_is_cut_with_a_warning_through_the_daemon(
    running_daemon, fast_options, tmp_path: Path
) -> None:
    clip = make_clip(tmp_path, "short", 0.4, seed=3)
    longer = make_clip(tmp_path, "long", 1.2, seed=4)
    otio = whole_file_job(clip.video, longer.audio)
    with running_daemon.client() as client:
        job = client.wait(client.submit(otio, fast_options()).job_id, 300)
    assert job.state is JobState.DONE, job.error
    assert any("were cut" in warning and "1.20 s" in warning for warning in job.warnings), job
    assert job.warnings.count(job.warnings[0]) == 1


def test_ipc_socket_files_go_when_the_daemon_stops(tiny_model: Path) -> None:
    root = Path(tempfile.mkdtemp(prefix="xdub-ipc-"))  # short: socket paths are <= 100 bytes
    daemon = DaemonProcess(root, tiny_model, extra_args=("--transport", "ipc"))
    try:
        daemon.start(wait_models=False)
        folder = daemon.connection_file.parent
        assert len(list(folder.glob("*.sock"))) == 2
        daemon.stop()
        assert list(folder.glob("*.sock")) == []
    finally:
        daemon.stop()
        shutil.rmtree(root, ignore_errors=True)
