"""A real daemon (real sockets, SQLite, tiny model): security defaults, errors, queue order."""

from __future__ import annotations

import json
import stat
import threading
import time
from pathlib import Path

import pytest
import zmq

from xdub.client import new_job_id
from xdub.errors import JobError, XdubError
from xdub.protocol.connection import read_connection_file
from xdub.protocol.messages import JobStateEvent, ProgressEvent
from xdub.protocol.records import JobState, ModelAction, ModelState

NUM_CLIENTS = 3
JOBS_PER_CLIENT = 10
"""As the issue asks; each tiny take is about a second (one-thread worker, 10-frame clip)."""
LISTEN = "0A"


def _listening_addresses(pid: int) -> list[str]:
    """Local addresses ``ip:port`` (hex, as /proc writes them) of ``pid``'s listening sockets."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().as_posix()
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = []
    for table in ("tcp", "tcp6"):
        lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            if fields[3] == LISTEN and fields[9] in inodes:
                found.append(fields[1])
    return found


def test_connection_file_is_private_and_nothing_listens_beyond_loopback(running_daemon) -> None:
    path = running_daemon.connection_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    info = read_connection_file(path)
    assert info.pid == running_daemon.pid
    addresses = _listening_addresses(running_daemon.pid)
    ports = {int(address.rsplit(":", 1)[1], 16) for address in addresses}
    wanted = {int(a.rsplit(":", 1)[1]) for a in (info.request_address, info.event_address)}
    assert wanted <= ports
    loopback_v4 = "0100007F"  # 127.0.0.1, little-endian hex
    assert all(address.split(":")[0] == loopback_v4 for address in addresses), addresses


def test_invalid_requests_get_precise_errors(running_daemon, short_clip, fast_options) -> None:
    with running_daemon.client() as client:
        with pytest.raises(JobError) as caught:
            client.submit("not json at all", fast_options())
        assert caught.value.code == "bad_job"
        missing = short_clip.otio.replace(str(short_clip.video), "/nonexistent/clip.mp4")
        with pytest.raises(JobError, match="does not exist") as caught:
            client.submit(missing, fast_options())
        assert caught.value.code == "bad_job"
        with pytest.raises(JobError) as caught:
            client.get("no-such-job")
        assert caught.value.code == "unknown_job"
        with pytest.raises(XdubError) as unknown_setting:
            client.settings({"colour": "blue"})
        assert unknown_setting.value.code == "unknown_setting"
        with pytest.raises(XdubError) as unknown_model:
            client.models(ModelAction.DOWNLOAD, ["no-such-model"])
        assert unknown_model.value.code == "bad_content"
        models = {model.name: model for model in client.models()}
        assert models["dit"].state is ModelState.READY and models["dit"].bytes_on_disk > 0


def test_resubmitting_is_idempotent_and_a_reused_id_is_refused(
    running_daemon, short_clip, fast_options
) -> None:
    job_id = new_job_id()
    with running_daemon.client() as client:
        first = client.submit(short_clip.otio, fast_options(), job_id=job_id)
        again = client.submit(short_clip.otio, fast_options(), job_id=job_id)
        assert again.job_id == first.job_id == job_id
        with pytest.raises(JobError) as caught:
            client.submit(short_clip.otio, fast_options(num_steps=2), job_id=job_id)
        assert caught.value.code == "job_exists"
        assert [job.job_id for job in client.list_jobs() if job.job_id == job_id] == [job_id]
        final = client.wait(job_id, 300)
    assert final.state is JobState.DONE, final.error


def _client_session(
    daemon, name: str, otio: str, options, barrier: threading.Barrier, results: dict
) -> None:
    with daemon.client(name) as client:
        client.hello()
        barrier.wait()
        job_ids = [client.submit(otio, options).job_id for _ in range(JOBS_PER_CLIENT)]
        seen: dict[str, list[str]] = {job_id: [] for job_id in job_ids}
        finished: set[str] = set()
        deadline = time.monotonic() + 600
        while len(finished) < len(job_ids) and time.monotonic() < deadline:
            for event in client.events(2.0, job_ids):
                content = event.content
                assert isinstance(content, (JobStateEvent, ProgressEvent))
                seen[content.job_id].append(event.msg_type)
                if isinstance(content, JobStateEvent) and content.state.is_terminal:
                    finished.add(content.job_id)
        results[name] = (job_ids, seen, [client.get(job_id) for job_id in job_ids])


def test_three_clients_at_once_all_finish_in_fifo_order_with_their_own_progress(
    running_daemon, short_clip, fast_options
) -> None:
    barrier = threading.Barrier(NUM_CLIENTS + 1)
    results: dict = {}
    run_order: list[str] = []
    names = [f"client-{index}" for index in range(NUM_CLIENTS)]
    threads = [
        threading.Thread(
            target=_client_session,
            args=(running_daemon, name, short_clip.otio, fast_options(), barrier, results),
        )
        for name in names
    ]
    with running_daemon.client("observer") as observer:
        observer.hello()
        for thread in threads:
            thread.start()
        barrier.wait()
        deadline = time.monotonic() + 600
        while len(run_order) < NUM_CLIENTS * JOBS_PER_CLIENT and time.monotonic() < deadline:
            for event in observer.events(1.0):
                content = event.content
                if isinstance(content, JobStateEvent) and content.state is JobState.RUNNING:
                    run_order.append(content.job_id)
        for thread in threads:
            thread.join(400)
        submitted = [job.job_id for job in reversed(observer.list_jobs(limit=1000))]
    assert sorted(results) == names
    mine = {job_id for job_ids, _, _ in results.values() for job_id in job_ids}
    assert run_order == [job_id for job_id in submitted if job_id in mine]
    for job_ids, seen, jobs in results.values():
        assert [job.state for job in jobs] == [JobState.DONE] * JOBS_PER_CLIENT
        for job_id in job_ids:
            assert "progress" in seen[job_id], f"no progress events for {job_id}"
            assert seen[job_id][-1] == "job_state"


def test_cancel_stops_a_running_job_and_the_queue_goes_on(
    running_daemon, short_clip, fast_options
) -> None:
    with running_daemon.client("canceller") as client:
        doomed = client.submit(short_clip.otio, fast_options(num_steps=200)).job_id
        following = client.submit(short_clip.otio, fast_options()).job_id
        for event in client.events(300.0, [doomed]):
            content = event.content
            if isinstance(content, ProgressEvent) and content.progress.stage.value == "denoise":
                break
        assert client.cancel(doomed) is JobState.CANCELLED
        late_progress = []
        for event in client.events(300.0, [doomed, following]):
            content = event.content
            if isinstance(content, ProgressEvent) and content.job_id == doomed:
                late_progress.append(content)
            if isinstance(content, JobStateEvent) and content.job_id == following:
                if content.state is JobState.RUNNING:
                    break
        assert late_progress == []
        assert client.wait(following, 300).state is JobState.DONE
        with pytest.raises(JobError) as caught:
            client.cancel(doomed)
        assert caught.value.code == "bad_state"
        assert client.retry(doomed) is JobState.QUEUED
        assert client.cancel(doomed) is JobState.CANCELLED
        client.delete(doomed, delete_files=True)
        with pytest.raises(JobError):
            client.get(doomed)


def test_the_result_points_at_a_take_aligned_with_the_clip(
    running_daemon, short_clip, fast_options
) -> None:
    from xdub.job.result import parse_result
    from xdub.media.probe import probe

    with running_daemon.client() as client:
        job = client.wait(client.submit(short_clip.otio, fast_options()).job_id, 300)
    assert job.state is JobState.DONE and job.result_otio is not None
    result = parse_result(job.result_otio)
    assert result.job_id == job.job_id and result.take_path.is_file()
    assert probe(result.take_path).num_frames == probe(short_clip.video).num_frames
    assert result.settings["seed"] == 7 and "TEST WEIGHTS" in result.model
    assert json.loads(job.result_otio)["OTIO_SCHEMA"].startswith("Timeline")


def test_a_draft_job_comes_back_marked_draft(running_daemon, short_clip, fast_options) -> None:
    import opentimelineio as otio

    from xdub.job.result import parse_result
    from xdub.protocol.records import Preset

    with running_daemon.client() as client:
        options = fast_options(preset=Preset.DRAFT)
        job = client.wait(client.submit(short_clip.otio, options).job_id, 300)
    assert job.state is JobState.DONE and job.result_otio is not None
    result = parse_result(job.result_otio)
    assert result.is_draft and result.settings["preset"] == "draft"
    assert (result.speed["num_steps"], result.speed["quality"]) == (10, "fast")
    assert result.speed["computed_steps"] + result.speed["skipped_steps"] >= 10
    assert any("without FP8" in warning for warning in job.warnings)
    timeline = otio.adapters.read_from_string(job.result_otio, "otio_json")
    take = next(c for c in timeline.video_tracks()[-1] if isinstance(c, otio.schema.Clip))
    assert take.name.endswith("(xdub draft)")


def _raw_subscriber(context: zmq.Context, address: str) -> zmq.Socket:
    """A SUB socket that knows the address only (what any local user can see in ``ss``)."""
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(address)
    return sub


def test_events_over_tcp_are_unreadable_without_the_connection_file(
    running_daemon, short_clip, fast_options
) -> None:
    info = read_connection_file(running_daemon.connection_file)
    assert info.transport == "tcp" and info.event_server_key
    context = zmq.Context()
    plain = _raw_subscriber(context, info.event_address)
    stranger = _raw_subscriber(context, info.event_address)  # CURVE, a made-up server key
    stranger.curve_serverkey, _ = zmq.curve_keypair()
    stranger.curve_publickey, stranger.curve_secretkey = zmq.curve_keypair()
    time.sleep(0.5)  # both have joined before anything is published
    with running_daemon.client("keyholder") as client:
        job_id = client.submit(short_clip.otio, fast_options()).job_id
        keyed = []
        for event in client.events(300.0, [job_id]):
            keyed.append(event)
            if isinstance(event.content, JobStateEvent) and event.content.state.is_terminal:
                break
    assert keyed[-1].content.state is JobState.DONE, "the key holder missed the job's end"
    for sub in (plain, stranger):
        assert not sub.poll(500), "an event reached a subscriber without the keys"
        sub.close()
    context.term()


def test_the_store_and_job_folders_are_private(running_daemon, short_clip, fast_options) -> None:
    with running_daemon.client() as client:
        job = client.wait(client.submit(short_clip.otio, fast_options()).job_id, 300)
    data = running_daemon.data_dir
    assert stat.S_IMODE((data / "jobs.sqlite3").stat().st_mode) == 0o600
    for folder in (data / "jobs", data / "jobs" / job.job_id):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
