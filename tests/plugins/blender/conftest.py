"""Fixtures of the Blender extension tests: the staged extension, the built zip, bpy venvs."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from xdub.plugins.build import build_blender, default_wheel_cache, fetch_wheels, stage_extension

PACKAGE_NAME = "xdub_blender_extension"


@pytest.fixture(scope="session")
def extension(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The staged extension (source + vendored protocol) imported as a package, without bpy."""
    staged = stage_extension(tmp_path_factory.mktemp("staged") / "xdub")
    spec = importlib.util.spec_from_file_location(
        PACKAGE_NAME, staged / "__init__.py", submodule_search_locations=[str(staged)]
    )
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE_NAME] = package
    spec.loader.exec_module(package)
    yield package
    for name in [name for name in sys.modules if name.startswith(PACKAGE_NAME)]:
        del sys.modules[name]


@pytest.fixture(scope="session")
def timing(extension: ModuleType) -> ModuleType:
    return importlib.import_module(f"{PACKAGE_NAME}.core.timing")


@pytest.fixture(scope="session")
def placement(extension: ModuleType) -> ModuleType:
    return importlib.import_module(f"{PACKAGE_NAME}.core.placement")


@pytest.fixture(scope="session")
def job_json(extension: ModuleType) -> ModuleType:
    return importlib.import_module(f"{PACKAGE_NAME}.core.job_json")


@pytest.fixture(scope="session")
def wheel_cache() -> Path:
    """The user wheel cache, filled once (pip download) so that builds can run offline."""
    cache = default_wheel_cache()
    fetch_wheels(cache)
    return cache


@pytest.fixture(scope="session")
def extension_zip(tmp_path_factory: pytest.TempPathFactory, wheel_cache: Path) -> Path:
    """The installable extension, built offline from the filled cache."""
    return build_blender(tmp_path_factory.mktemp("dist"), wheel_cache=wheel_cache, offline=True)


# ---------------------------------------------------------------------------------------------
# A stand-in daemon, speaking the real protocol over real ZeroMQ sockets, until the daemon's
# test fixture can be used. It validates each job with the real ``parse_job`` and "renders" the
# take by copying the source file (same rate and frames), so placement can be checked exactly.


class StandInDaemon:
    """ROUTER + PUB on loopback; jobs run ``num_steps`` progress steps of ``step_s`` each."""

    def __init__(self, root: Path, step_s: float = 0.05) -> None:
        import threading

        import zmq

        from xdub.protocol.connection import ConnectionInfo, write_connection_file
        from xdub.protocol.signing import Session
        from xdub.protocol.zmq_transport import bind_server_sockets

        self.root = root
        self.step_s = step_s
        self.context = zmq.Context()
        self.router, self.pub, addresses = bind_server_sockets(self.context)
        info = ConnectionInfo.create(
            "tcp", addresses.request_address, addresses.event_address, xdub_version="stand-in"
        )
        self.session = Session(info.key_bytes)
        self.connection_file = write_connection_file(info, root / "run" / "daemon.json")
        self.jobs: dict[str, dict[str, object]] = {}
        self.submitted: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.router.close(0)
        self.pub.close(0)
        self.context.term()
        self.connection_file.unlink(missing_ok=True)

    def _serve(self) -> None:
        import time

        while not self._stop.is_set():
            if self.router.poll(20):
                self._answer(self.router.recv_multipart())
            now = time.monotonic()
            for job_id, job in list(self.jobs.items()):
                if job["state"] == "running" and now >= job["next_s"]:  # type: ignore[operator]
                    self._step(job_id, job, now)

    def _answer(self, frames: list[bytes]) -> None:
        import time

        from xdub.errors import XdubError
        from xdub.otio_job import parse_job
        from xdub.protocol import messages as m
        from xdub.protocol.records import JobState
        from xdub.protocol.signing import RejectedMessage

        try:
            request = self.session.deserialize(frames)
        except RejectedMessage:
            return
        content = request.content
        try:
            if isinstance(content, m.Hello):
                reply: object = m.HelloReply("1.0", "stand-in", 1, "cpu", True)
            elif isinstance(content, m.Submit):
                job = parse_job(content.otio)
                self.submitted.append(content.otio)
                self.jobs[content.job_id] = {
                    "job": job,
                    "options": content.options,
                    "state": "running",
                    "step": 0,
                    "next_s": time.monotonic() + self.step_s,
                }
                self._event(m.JobStateEvent(content.job_id, JobState.RUNNING, JobState.QUEUED))
                reply = m.SubmitReply(content.job_id, JobState.QUEUED, 0)
            elif isinstance(content, m.CancelJob):
                self.jobs[content.job_id]["state"] = "cancelled"
                self._event(m.JobStateEvent(content.job_id, JobState.CANCELLED, JobState.RUNNING))
                reply = m.CancelJobReply(content.job_id, JobState.CANCELLED)
            elif isinstance(content, m.GetJob):
                reply = m.GetJobReply(self._info(content.job_id))
            else:
                raise XdubError(f"the stand-in does not answer {request.msg_type}")
        except XdubError as error:
            reply = m.ErrorReply.from_exception(error)
        self.router.send_multipart(self.session.reply(request, reply))  # type: ignore[arg-type]

    def _event(self, event: object) -> None:
        from xdub.protocol.zmq_transport import publish

        publish(self.pub, self.session, event)  # type: ignore[arg-type]

    def _info(self, job_id: str) -> object:
        from xdub.protocol.records import JobInfo, JobState

        job = self.jobs[job_id]
        stamp = "2026-01-01T00:00:00Z"
        return JobInfo(
            job_id,
            "job",
            JobState(job["state"]),
            stamp,
            stamp,
            job["options"],  # type: ignore[arg-type]
            result_otio=job.get("result"),  # type: ignore[arg-type]
        )

    def _step(self, job_id: str, job: dict[str, object], now: float) -> None:
        import shutil

        import opentimelineio as otio

        from xdub.otio_result import build_result
        from xdub.protocol import messages as m
        from xdub.protocol.records import JobState, Progress, Stage

        steps = job["options"].num_steps  # type: ignore[attr-defined]
        job["step"] = step = int(job["step"]) + 1  # type: ignore[call-overload]
        progress = Progress(Stage.DENOISE, 1, 1, min(step, steps), steps, min(step / steps, 1.0))
        self._event(m.ProgressEvent(job_id, progress))
        job["next_s"] = now + self.step_s
        if step < steps:
            return
        source = job["job"]
        take = self.root / f"{job_id}-take{source.video_path.suffix}"  # type: ignore[attr-defined]
        shutil.copy(source.video_path, take)  # type: ignore[attr-defined]
        result = build_result(source, take, job_id=job_id, model="stand-in", settings={"s": 1})  # type: ignore[arg-type]
        job["result"] = otio.adapters.write_to_string(result, "otio_json")
        job["state"] = "done"
        self._event(
            m.JobStateEvent(job_id, JobState.DONE, JobState.RUNNING, result_otio=job["result"])  # type: ignore[arg-type]
        )


@pytest.fixture
def stand_in_daemon(tmp_path: Path) -> Iterator[StandInDaemon]:
    daemon = StandInDaemon(tmp_path / "daemon")
    yield daemon
    daemon.close()
