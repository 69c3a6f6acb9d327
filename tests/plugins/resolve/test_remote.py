"""The menu scripts against a remote daemon (``--listen``; the connection file decides).

The daemon keeps its data under a root of its own; the plugin's media and "xdub takes" folder
are elsewhere. The job's media go up in chunks, and the take is downloaded into "xdub takes"
beside the clip's media and placed from that copy, never from the daemon's own path.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import DaemonProcess
from fake_resolve import FREE, STUDIO, FakeBmd
from menu_scripts import editor, run_menu_script, whole_item_project
from resolve_scenario import Media, Project, make_media

from xdub.client import DaemonClient
from xdub.errors import XdubError
from xdub.protocol.connection import read_connection_file, write_connection_file
from xdub.protocol.errors import ErrorCode
from xdub.protocol.takes import read_take

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def remote_daemon(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path
) -> Iterator[DaemonProcess]:
    process = DaemonProcess(
        tmp_path_factory.mktemp("gpu-box"), tiny_model_dir, extra_args=("--listen", "127.0.0.1:0")
    )
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


@pytest.fixture
def laptop(remote_daemon: DaemonProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The editor's own connection file to the remote daemon (as ``xdub connect`` writes it)."""
    info = read_connection_file(remote_daemon.connection_file)
    path = write_connection_file(info, tmp_path / "laptop" / "run" / "daemon.json")
    monkeypatch.setenv("XDUB_CONNECTION_FILE", str(path))
    return path


@pytest.fixture
def own_media(tmp_path: Path) -> Media:
    folder = tmp_path / "laptop" / "media"
    folder.mkdir(parents=True)
    return make_media(folder)


def _md5(path: str | Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def _assert_placed_from_download(
    project: Project, remote_daemon: DaemonProcess, laptop: Path, media: Media
) -> str:
    """The item's selected take is the downloaded copy in "xdub takes" beside the media."""
    item = project.item
    assert (item.GetTakesCount(), item.GetSelectedTakeIndex()) == (2, 2)
    placed = Path(item.GetMediaPoolItem().GetClipProperty("File Path"))
    assert placed.parent == Path(media.video).parent / "xdub takes"
    assert not [p for p in placed.parent.iterdir() if p.name.startswith(".")]  # no partials
    (marker,) = item.GetMarkers().values()
    job_id = marker["customData"].removeprefix("xdub:")
    with DaemonClient(laptop, client_name="test", timeout_s=20.0) as client:
        job = client.get(job_id)
    daemon_side = Path(read_take(job.result_otio or "").path)
    assert daemon_side.is_relative_to(remote_daemon.root) and daemon_side != placed
    assert daemon_side.name == placed.name and _md5(daemon_side) == _md5(placed)
    assert str(Path(media.video).parent) not in remote_daemon.submitted_otio(job_id)  # uploaded
    return job_id


def test_studio_dub_downloads_the_remote_take_and_places_it(
    installed: Path,
    laptop: Path,
    remote_daemon: DaemonProcess,
    own_media: Media,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = whole_item_project(own_media, STUDIO, (21, 0, 4))
    project.timeline.select(project.item)
    bmd = FakeBmd(project.resolve, editor())
    printed = run_menu_script(installed, "XDub – Dub clip.py", project, bmd, capsys)
    assert any("downloading the take" in line for line in printed), printed
    assert any("as a take" in line for line in printed), printed
    _assert_placed_from_download(project, remote_daemon, laptop, own_media)


def test_collect_downloads_remote_takes_once(
    installed: Path,
    laptop: Path,
    remote_daemon: DaemonProcess,
    own_media: Media,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from xdub_resolve.dub_clip import gather_job
    from xdub_resolve.host import ResolveTimeline
    from xdub_resolve.job import build_job

    from xdub.protocol.otio_json import job_to_json
    from xdub.protocol.records import Codec, DubOptions

    project = whole_item_project(own_media, FREE, (21, 0, 3))
    otio = job_to_json(build_job(gather_job(ResolveTimeline(project.resolve), project.item, 2)))
    with DaemonClient(laptop, client_name="test", timeout_s=20.0) as client:
        job_id = client.submit(otio, DubOptions(codec=Codec.H264, num_steps=1, seed=1)).job_id
        client.wait(job_id, timeout_s=240.0)
    printed = run_menu_script(installed, "XDub – Collect finished takes.py", project, None, capsys)
    assert any("downloading the take" in line for line in printed), printed
    assert _assert_placed_from_download(project, remote_daemon, laptop, own_media) == job_id
    again = run_menu_script(installed, "XDub – Collect finished takes.py", project, None, capsys)
    assert again[-1] == "XDub: 0 finished take(s) collected", again
    assert not any("downloading" in line for line in again)  # the copy is there
    assert project.item.GetTakesCount() == 2


def _logging_python(folder: Path) -> tuple[Path, Path]:
    """A "python" that notes each command line it runs in a log, then runs this Python."""
    folder.mkdir(parents=True)
    python, log = folder / "python", folder / "commands.txt"
    python.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    return python, log


def test_free_without_pyzmq_dubs_through_the_bridge_against_the_remote_daemon(
    installed: Path,
    laptop: Path,
    remote_daemon: DaemonProcess,
    own_media: Media,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Resolve's Python has no pyzmq: the script runs ``xdub bridge`` with the Python the
    connection file names; the bridge does CURVE and signing, and the chunks (base64 text in
    the JSON content) go up and down through its pipes like any other request."""
    python, commands = _logging_python(tmp_path / "laptop" / "bin")
    info = read_connection_file(laptop)
    assert info.request_server_key  # CURVE: the media and the take travel encrypted
    write_connection_file(dataclasses.replace(info, python_executable=str(python)), laptop)
    monkeypatch.setitem(sys.modules, "zmq", None)  # `import zmq` fails in the plugin
    project = whole_item_project(own_media, FREE, (21, 0, 3))
    printed = run_menu_script(
        installed, "XDub – Dub clip.py", project, FakeBmd(project.resolve), capsys
    )
    assert any("downloading the take" in line for line in printed), printed
    assert any("as a take" in line for line in printed), printed
    bridge = f"-m xdub bridge --connection-file {laptop} --client-name resolve"
    ran = commands.read_text().splitlines()
    assert ran and set(ran) == {bridge}, ran  # every request went through the bridge
    job_id = _assert_placed_from_download(project, remote_daemon, laptop, own_media)
    assert str(remote_daemon.root) in remote_daemon.submitted_otio(job_id)  # its uploads


def test_bridge_carries_chunks_both_ways_and_resumes_a_stalled_download(
    laptop: Path, remote_daemon: DaemonProcess, own_media: Media, tmp_path: Path
) -> None:
    """``DaemonClient`` over the bridge at the smallest chunk size: the media go up in several
    chunks; a bridge that stalls mid-download times out and keeps the partial take, and the
    next ``fetch_take`` resumes it after the chunks it holds (the stalled request's late
    reply is not taken for a new one's)."""
    from xdub_resolve.dub_clip import gather_job
    from xdub_resolve.host import ResolveTimeline
    from xdub_resolve.job import build_job

    from xdub.media.synthetic import AudioSpec, SpeechTrack, write_synthetic_audio
    from xdub.protocol.bridge_transport import BridgeTransport
    from xdub.protocol.otio_json import job_to_json
    from xdub.protocol.records import Codec, DubOptions
    from xdub.protocol.transfer_messages import MIN_CHUNK_BYTES

    speech = SpeechTrack.generate(1.2, seed=11)  # not on the daemon yet: it goes up
    write_synthetic_audio(own_media.dialogue, speech, AudioSpec(48000, 2))  # 230 kB
    project = whole_item_project(own_media, FREE, (21, 0, 3))
    otio = job_to_json(build_job(gather_job(ResolveTimeline(project.resolve), project.item, 2)))
    takes = tmp_path / "takes"
    options = DubOptions(codec=Codec.PRORES_HQ, num_steps=1, seed=3, output_dir=str(takes))
    bridge = BridgeTransport(laptop, client_name="test")
    with DaemonClient(
        laptop, transport=bridge, timeout_s=30.0, chunk_bytes=MIN_CHUNK_BYTES
    ) as client:
        job_id = client.submit(otio, options).job_id
        uploaded = client.last_transfer
        assert uploaded.chunks > 3 and uploaded.bytes > 3 * MIN_CHUNK_BYTES, uploaded
        result_otio = client.wait(job_id, timeout_s=240.0).result_otio or ""
        stalled: list[int] = []

        def bridge_stalls(done_bytes: int, size_bytes: int) -> None:
            assert bridge._process is not None and done_bytes < size_bytes
            os.kill(bridge._process.pid, signal.SIGSTOP)
            stalled.append(bridge._process.pid)

        client.timeout_s = 3.0
        try:
            with pytest.raises(XdubError) as cut_off:
                client.fetch_take(job_id, progress=bridge_stalls)
        finally:
            for pid in set(stalled):
                os.kill(pid, signal.SIGCONT)
        assert cut_off.value.code == ErrorCode.TIMEOUT.value, cut_off.value
        assert [p for p in takes.iterdir() if p.name.endswith(".part")]  # kept to resume
        client.timeout_s = 30.0
        take = client.fetch_take(job_id)
        fetched = client.last_transfer
    assert fetched.resumed_chunks == len(stalled) and fetched.chunks > 1, fetched
    assert Path(take.path).parent == takes and not list(takes.glob(".*"))  # no partials
    daemon_side = Path(read_take(result_otio).path)
    assert daemon_side.is_relative_to(remote_daemon.root)
    assert _md5(take.path) == _md5(daemon_side)


def test_the_bridge_answers_a_request_at_once_while_no_event_comes(
    laptop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunked transfer is one request after another: the bridge must read the next one as
    it arrives, not once its wait for events ends (that wait made each chunk cost it)."""
    import json
    import queue
    import threading

    from xdub.cli import bridge
    from xdub.protocol.zmq_transport import ClientTransport

    monkeypatch.setattr(bridge, "EVENT_POLL_S", 20.0)  # the longest a wait for events may take
    read_in, write_in = os.pipe()
    read_out, write_out = os.pipe()
    stdin, requests = open(read_in, encoding="utf-8"), open(write_in, "w", encoding="utf-8")
    stdout, out = open(write_out, "w", encoding="utf-8"), open(read_out, encoding="utf-8")
    replies: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [replies.put(line) for line in out], daemon=True)
    reader.start()
    with ClientTransport(laptop, client_name="test") as transport:
        transport.connect()
        relay = threading.Thread(target=bridge.relay, args=(transport, stdin, stdout), daemon=True)
        relay.start()
        try:
            for request_id in range(3):
                line = {"id": request_id, "msg_type": "get", "content": {"job_id": "nope"}}
                requests.write(json.dumps(line) + "\n")
                requests.flush()
                try:
                    reply = json.loads(replies.get(timeout=5.0))
                except queue.Empty:
                    raise AssertionError(f"request {request_id} waited for events") from None
                assert reply["id"] == request_id and reply["msg_type"] == "get_reply", reply
                assert reply["content"]["error"]["code"] == "unknown_job", reply
        finally:
            requests.close()  # end of input ends the relay (before its transport closes)
            relay.join(timeout=30.0)
            stdout.close()  # then the reader's end of its output
            reader.join(timeout=10.0)
            stdin.close()
            out.close()
        assert not relay.is_alive()
