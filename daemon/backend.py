"""``Backend``: what the server needs from whatever runs its jobs, and ``make_backend``.

Two implement it: ``Supervisor`` (one worker process here, ``--backend local``) and
``FarmBackend`` (Ray actors, one per GPU, ``--backend ray``; docs/farm.md). Both deliver the
worker's typed reports (``xdub_daemon.wire``) to the server's loop through ``fileno``.
"""

from __future__ import annotations

from typing import Protocol

from xdub.protocol.records import WorkerState
from xdub_daemon.config import DaemonConfig
from xdub_daemon.supervisor import Supervisor, WorkerExit
from xdub_daemon.wire import FromWorker, WorkerSpec
from xdub_daemon.worker import WorkerConfig


class Backend(Protocol):
    """Runs jobs; ``is_idle`` says whether ``run`` may be given one now."""

    @property
    def state(self) -> WorkerState: ...
    @property
    def device(self) -> str: ...
    @property
    def pid(self) -> int | None: ...
    @property
    def message(self) -> str | None:
        """Why jobs wait although the backend runs (for health events), or None."""

    @property
    def actors_alive(self) -> int | None:
        """The farm's actors with their models loaded; None for a local worker."""

    def runner_of(self, job_id: str) -> str | None:
        """Who runs the job (``actor-N@node`` on a farm), or None."""

    def start(self) -> None: ...
    def fileno(self) -> int | None: ...
    @property
    def is_idle(self) -> bool: ...
    @property
    def job_id(self) -> str | None: ...
    @property
    def job_ids(self) -> list[str]: ...
    def run(self, spec: WorkerSpec) -> None: ...
    def cancel(self, job_id: str) -> None: ...
    def receive(self) -> list[FromWorker | WorkerExit]: ...
    def stop(self) -> None: ...


def make_backend(config: DaemonConfig) -> Backend:
    """The backend ``config.backend`` names, with the worker's settings."""
    worker = WorkerConfig(
        model_dir=config.model_dir,
        device=config.device,
        precision=config.precision,
        vram_policy=config.vram_policy,
        face_backend=config.face_backend,
        compile=config.compile,
        cuda_graphs=config.cuda_graphs,
        log_path=config.log_dir / "worker.log",
    )
    if config.backend == "ray":
        from xdub_daemon.farm import FarmBackend

        return FarmBackend(worker, config.farm)
    return Supervisor(worker)
