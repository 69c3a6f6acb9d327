"""Media travel with the job to a remote daemon (``--listen``), and the take comes back.

The "client" keeps its media and its data in folders the daemon process is told nothing
about (its own data, log and runtime folders are elsewhere), and deletes its media before it
submits, so a take can only come from what it uploaded. Real ZeroMQ with CURVE on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest
from opentimelineio.opentime import RationalTime, TimeRange
from support.daemon import TEST_ENV, Clip, DaemonProcess, make_clip

from xdub.cli.plugins.vendor import vendor_protocol
from xdub.client import DaemonClient
from xdub.errors import ProtocolError, XdubError
from xdub.job.timeline import DialogueClip, SourceClip, build_job, job_to_json
from xdub.media.probe import probe
from xdub.protocol.connection import read_connection_file, write_connection_file
from xdub.protocol.download import DownloadCancelled
from xdub.protocol.records import Codec, JobState
from xdub.protocol.schema import Content
from xdub.protocol.takes import read_take
from xdub.protocol.timecode import shift_timecode
from xdub.protocol.transfer import UPLOAD_SCHEME, chunk_payload, sha256_of
from xdub.protocol.transfer_messages import (
    MIN_CHUNK_BYTES,
    TakeChunk,
    UploadChunk,
    chunk_count,
)

CHUNK_BYTES = MIN_CHUNK_BYTES
"""64 KiB: the test media make several chunks each."""


@pytest.fixture(scope="module")
def remote_daemon(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path
) -> Iterator[DaemonProcess]:
    daemon = DaemonProcess(
        tmp_path_factory.mktemp("gpu-box"), tiny_model, extra_args=("--listen", "127.0.0.1:0")
    )
    daemon.start(wait_models=False)
    yield daemon
    daemon.stop()


@pytest.fixture
def laptop(remote_daemon: DaemonProcess, tmp_path: Path) -> Path:
    """The client's own connection file (as ``xdub connect`` writes it) under ``tmp_path``."""
    info = read_connection_file(remote_daemon.connection_file)
    return write_connection_file(info, tmp_path / "laptop" / "run" / "daemon.json")


def _client(connection_file: Path) -> DaemonClient:
    return DaemonClient(
        connection_file, client_name="laptop", timeout_s=30.0, chunk_bytes=CHUNK_BYTES
    )


def _md5(path: Path | str) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def _media(tmp_path: Path, name: str, seed: int, duration_s: float = 0.4) -> tuple[Path, str]:
    folder = tmp_path / "laptop" / "media" / name
    folder.mkdir(parents=True)
    clip = make_clip(folder, name, duration_s, seed=seed)
    return folder, clip.otio


def _footage(tmp_path: Path, name: str, seed: int, duration_s: float = 6.0) -> Path:
    """A 320x192 clip of its own content: several chunks (the dub tests' clips are tiny)."""
    from xdub.media.synthetic import SyntheticVideoSpec, write_synthetic_video

    path = tmp_path / "laptop" / "footage" / f"{name}.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    spec = SyntheticVideoSpec(
        width=320, height=192, fps=Fraction(25), duration_s=duration_s, seed=seed
    )
    write_synthetic_video(path, spec)
    return path


def _uploaded(daemon: DaemonProcess, sha256: str) -> Path:
    return daemon.data_dir / "uploads" / sha256


def test_the_media_go_up_and_the_take_comes_back_to_the_asked_place(
    remote_daemon, laptop, tmp_path, fast_options
) -> None:
    media, otio = _media(tmp_path, "scene", seed=3)
    takes = tmp_path / "laptop" / "takes"
    with _client(laptop) as client:
        assert client.sends_media  # a --listen daemon's connection file
        sent = client.upload_media(otio)
        uploaded = client.last_transfer.sha256s
        assert client.last_transfer.chunks >= 2 and len(uploaded) == 2  # the clip, the dialogue
        shutil.rmtree(media)  # from now on only the daemon's copies exist
        job_id = client.submit(sent, fast_options(output_dir=str(takes))).job_id
        stored = remote_daemon.submitted_otio(job_id)
        assert str(tmp_path) not in stored and UPLOAD_SCHEME not in stored
        for sha256 in uploaded:
            assert str(_uploaded(remote_daemon, sha256)) in stored
        job = client.wait(job_id, timeout_s=300)
        assert job.state is JobState.DONE, job.error
        server_take = Path(read_take(job.result_otio or "").path)
        assert str(tmp_path) not in str(server_take)  # written on the daemon's side
        take = client.fetch_take(job_id)
        with pytest.raises(XdubError) as past_the_end:
            client.call(TakeChunk(job_id, 10**6, CHUNK_BYTES))
    assert past_the_end.value.code == "bad_content"
    local = Path(take.path)
    assert local.parent == takes and local.name == server_take.name
    assert _md5(local) == _md5(server_take)
    assert client.last_transfer.chunks == chunk_count(local.stat().st_size, CHUNK_BYTES)
    assert not [path for path in takes.iterdir() if path.name.startswith(".")]  # no partials


def test_a_damaged_chunk_is_refused_and_sent_again(remote_daemon, laptop, tmp_path) -> None:
    video = _footage(tmp_path, "damaged", seed=11)
    damaged: list[int] = []

    def payload(index: int, data: bytes) -> tuple[str, str]:
        text, sha256 = chunk_payload(data)
        if index == 1 and not damaged:  # bit rot after the hash was taken, once
            damaged.append(index)
            return chunk_payload(bytes([data[0] ^ 0xFF]) + data[1:])[0], sha256
        return text, sha256

    with _client(laptop) as client:
        uploader = client.uploader()
        uploader.payload = payload
        sha256 = uploader.upload_file(video)
    count = chunk_count(video.stat().st_size, CHUNK_BYTES)
    assert damaged == [1] and uploader.stats.resent == 1 and uploader.stats.chunks == count
    assert _md5(_uploaded(remote_daemon, sha256)) == _md5(video)
    assert "upload_chunk failed: chunk_corrupt" in remote_daemon.log_text()


def test_an_upload_cut_off_resumes_with_only_the_missing_chunks(
    remote_daemon, laptop, tmp_path
) -> None:
    video = _footage(tmp_path, "cut", seed=13)
    count = chunk_count(video.stat().st_size, CHUNK_BYTES)
    sent_before_drop = count // 2
    assert sent_before_drop >= 2

    class Dropped(Exception):
        pass

    first = _client(laptop)
    chunks_sent = []

    def call_then_drop(request: Content) -> Content:
        if isinstance(request, UploadChunk):
            if len(chunks_sent) == sent_before_drop:
                first.close()  # the connection goes away mid upload
                raise Dropped
            chunks_sent.append(request.index)
        return first.call(request)

    uploader = first.uploader()
    uploader.call = call_then_drop
    with pytest.raises(Dropped):
        uploader.upload_file(video)
    sha256 = sha256_of(video)
    assert not _uploaded(remote_daemon, sha256).exists()
    with _client(laptop) as second:
        resumed = second.uploader()
        assert resumed.upload_file(video) == sha256
    assert resumed.stats.chunks == count - sent_before_drop
    assert _md5(_uploaded(remote_daemon, sha256)) == _md5(video)


def _partials(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.startswith("."))


def test_a_take_download_cut_off_resumes_from_the_chunks_it_holds(
    remote_daemon, laptop, tmp_path, fast_options
) -> None:
    _, otio = _media(tmp_path, "resume", seed=23)
    takes = tmp_path / "laptop" / "takes"
    options = fast_options(output_dir=str(takes), codec=Codec.PRORES_HQ)  # several chunks
    with _client(laptop) as client:
        job_id = client.submit(otio, options).job_id
        job = client.wait(job_id, timeout_s=300)
        assert job.state is JobState.DONE, job.error
        server_take = Path(read_take(job.result_otio or "").path)
        count = chunk_count(server_take.stat().st_size, CHUNK_BYTES)
        assert count >= 2, f"the take is {server_take.stat().st_size} bytes, one chunk"

        def cancel(done_bytes: int, size_bytes: int) -> None:
            raise DownloadCancelled

        with pytest.raises(DownloadCancelled):
            client.fetch_take(job_id, progress=cancel)
        assert _partials(takes) == []  # a cancel leaves nothing behind

    cut_at = count - 1  # the chunks it holds when the connection drops

    def cut_off() -> list[Path]:
        """A download whose connection drops after ``cut_at`` chunks; its partial files."""
        client = _client(laptop)
        fetched: list[int] = []
        real_call = client.call

        def call_then_drop(request: Content) -> Content:
            if isinstance(request, TakeChunk):
                if len(fetched) == cut_at:
                    client.close()  # the connection goes away mid download
                    raise ProtocolError("the connection dropped", code="timeout")
                fetched.append(request.index)
            return real_call(request)

        client.media.call = call_then_drop
        with pytest.raises(XdubError) as cut:
            client.fetch_take(job_id, takes)
        assert cut.value.code == "timeout" and fetched == list(range(cut_at))
        assert not (takes / server_take.name).exists()
        partial = [takes / name for name in _partials(takes)]
        assert [path.suffix for path in partial] == [".part", ".sha256"]
        return partial

    def resume() -> tuple[int, int]:
        with _client(laptop) as client:
            take = client.fetch_take(job_id, takes)
        assert _md5(take.path) == _md5(server_take) and Path(take.path).parent == takes
        assert _partials(takes) == []
        Path(take.path).unlink()
        return client.last_transfer.resumed_chunks, client.last_transfer.chunks

    cut_off()
    assert resume() == (cut_at, count - cut_at)  # only the chunks after the cut
    part, _ = cut_off()
    data = bytearray(part.read_bytes())  # bit rot in the last chunk it holds
    data[(cut_at - 1) * CHUNK_BYTES] ^= 0xFF
    part.write_bytes(bytes(data))
    assert resume() == (cut_at - 1, count - cut_at + 1)  # re-hashed: that one is fetched again


def test_content_the_daemon_holds_is_not_sent_again(remote_daemon, laptop, tmp_path) -> None:
    media, otio = _media(tmp_path, "twice", seed=17)
    with _client(laptop) as client:
        first = client.upload_media(otio)
        assert client.last_transfer.chunks > 0
        copy = tmp_path / "laptop" / "copy"
        shutil.copytree(media, copy)  # the same content under another name
        second = client.upload_media(otio.replace(str(media), str(copy)))
        assert (client.last_transfer.chunks, client.last_transfer.files_skipped) == (0, 2)
    assert first == second


def test_a_job_naming_content_the_daemon_lacks_is_refused(laptop, fast_options) -> None:
    otio = '{"target_url": "' + UPLOAD_SCHEME + "0" * 64 + '"}'
    with _client(laptop) as client, pytest.raises(XdubError) as refused:
        client.submit(otio, fast_options())
    assert refused.value.code == "unknown_upload"


def test_a_local_connection_sends_paths(tmp_path, laptop) -> None:
    info = read_connection_file(laptop)
    local = {**info.to_json(), "request_server_key": ""}
    path = write_connection_file(type(info).from_json(local), tmp_path / "local.json")
    assert not DaemonClient(path, transport=object()).sends_media  # type: ignore[arg-type]


def test_xdub_dub_through_a_remote_daemon_uploads_and_downloads(
    remote_daemon, laptop, tmp_path
) -> None:
    media, _ = _media(tmp_path, "cli", seed=19)
    output = tmp_path / "laptop" / "out" / "take.mp4"
    env = {**os.environ, **TEST_ENV, "XDUB_CONNECTION_FILE": str(laptop)}
    env["XDUB_DATA_DIR"] = str(tmp_path / "laptop" / "data")
    command = [sys.executable, "-m", "xdub", "dub", str(media / "cli.mp4"), str(media / "cli.wav")]
    command += ["-o", str(output), "--steps", "1", "--seed", "3", "--codec", "h264"]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    job_id = run.stdout.split("daemon job ")[1].split(")")[0]
    with remote_daemon.client() as owner:
        job = owner.get(job_id)
    assert str(tmp_path) not in remote_daemon.submitted_otio(job_id)
    assert _md5(output) == _md5(read_take(job.result_otio or "").path)


def test_a_long_source_goes_up_as_the_cut_of_its_used_range(
    remote_daemon, laptop, tmp_path, fast_options
) -> None:
    """10 frames of a 12 s clip: the client uploads the key frame before them onwards (not
    the file), and the take has those frames at the source's timecode."""
    clip, job = _long_job(tmp_path, "long", seed=23)
    takes = tmp_path / "laptop" / "takes"
    with _client(laptop) as client:
        sent = client.upload_media(job)
        video_bytes = client.last_transfer.bytes - clip.audio.stat().st_size
        assert 0 < video_bytes < clip.video.stat().st_size / 2
        shutil.rmtree(clip.video.parent)  # only the daemon's copies from now on
        job_id = client.submit(sent, fast_options(output_dir=str(takes))).job_id
        done = client.wait(job_id, timeout_s=300)
        assert done.state is JobState.DONE, done.error
        take = probe(Path(client.fetch_take(job_id).path))
    assert take.num_frames == 10
    assert take.timecode == shift_timecode("01:00:00:00", 255, Fraction(25))


def _long_job(tmp_path: Path, name: str, seed: int) -> tuple[Clip, str]:
    """A 12 s clip (01:00:00:00) and a job using 10 of its frames from frame 255."""
    media = tmp_path / "laptop" / "media" / name
    media.mkdir(parents=True)
    clip = make_clip(media, name, 12.0, seed=seed, timecode="01:00:00:00")
    used = TimeRange(RationalTime(255, 25), RationalTime(10, 25))
    heard = TimeRange(RationalTime(0, 16000), RationalTime(6400, 16000))
    dialogue = DialogueClip(clip.audio, heard, RationalTime(0, 25))
    source = SourceClip(clip.video, used)
    return clip, job_to_json(build_job(source, [dialogue], name=name, host="test"))


def test_a_hosts_client_sends_a_long_source_whole(remote_daemon, laptop, tmp_path) -> None:
    """Resolve's and Blender's ``xdub_protocol`` copy (pyzmq here; the bridge only relays its
    chunks) has no cut: the same job as above goes up with the whole file."""
    clip, job = _long_job(tmp_path, "host", seed=29)
    host = vendor_protocol(tmp_path / "host").parent
    program = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
        "from xdub_protocol.client import DaemonClient;"
        "client = DaemonClient(Path(sys.argv[2]), client_name='host', timeout_s=30.0);"
        "client.upload_media(sys.stdin.read()); print(client.last_transfer.bytes)"
    )
    run = subprocess.run(
        [sys.executable, "-c", program, str(host), str(laptop)],
        input=job,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    sizes = clip.video.stat().st_size + clip.audio.stat().st_size
    assert int(run.stdout.split()[-1]) == sizes
