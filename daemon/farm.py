"""The Ray backend (``--backend ray``): jobs run on Ray actors, one resident-model actor per GPU.

``FarmBackend`` has the interface the server uses for ``Supervisor`` (``start``, ``fileno``,
``is_idle``, ``run``, ``cancel``, ``receive``, ``stop``, ``state``, ``device``, ``pid``), so the
daemon stays the front door (queue, auth, events, store) whichever backend runs the jobs.

Each actor (``xdub_daemon.farm_actor.FarmActor``) has a feeder thread here: it waits for the
actor's models, then hands it one job at a time and forwards the reports the actor's streaming
``run`` yields. Reports go into one queue and a byte onto a socketpair whose read end is the
``fileno`` the server polls, so they reach the same loop as the local worker's. An actor that
dies mid-job (its process killed, its node lost) is replaced, and its job runs again on the
next free actor from its last finished window (the checkpoints are in the job folder, which
every actor reads: ``--shared-dir``); the job fails with ``worker_crashed`` only after
``MAX_ACTOR_LOSSES`` actors died on it. With several actors a long job is a split take
(``xdub_daemon.farm_split``): its parts run on several actors at once, ahead of the queue.
Reports are routed by the actor that sent them; an actor whose job was cancelled is "stale"
until its run ends, and nothing it still reports reaches the server (a retry of the job may
run elsewhere meanwhile).
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from xdub.protocol.records import ErrorInfo, WorkerState
from xdub_daemon.config import GPU_RESOURCE, FarmOptions
from xdub_daemon.farm_actor import LOADS_FILE_ENV, FarmActor
from xdub_daemon.farm_connect import connect
from xdub_daemon.farm_split import SplitRun, segments_for
from xdub_daemon.faults import FAULT_ENV
from xdub_daemon.supervisor import WorkerExit
from xdub_daemon.wire import (
    CancelledReport,
    DoneReport,
    FailedReport,
    FatalReport,
    FromWorker,
    PartDoneReport,
    PlanPart,
    ReadyReport,
    SegmentPart,
    WorkerSpec,
)
from xdub_daemon.worker import WorkerConfig

log = logging.getLogger(__name__)

MAX_ACTOR_LOSSES = 2
"""Actors that may die on one job before it fails (``worker_crashed``, so no loop)."""
RESOURCE_RECHECK_S = 5.0
STOP_TIMEOUT_S = 5.0
FORWARDED_ENV = (FAULT_ENV, LOADS_FILE_ENV, "OMP_NUM_THREADS")
"""The daemon's environment variables its actors get too (the test hooks, torch's threads)."""


@dataclass
class _Actor:
    """One actor and its feeder thread's inbox; ``spec`` is the job (or part) it runs;
    ``stale``: that job was cancelled, its reports are dropped."""

    name: str
    handle: Any
    inbox: queue.Queue[WorkerSpec | None] = field(default_factory=queue.Queue)
    state: WorkerState = WorkerState.STARTING
    spec: WorkerSpec | None = None
    stale: bool = False
    pid: int | None = None
    node: str = ""
    device: str = ""

    @property
    def runner(self) -> str:
        return f"{self.name}@{self.node}"


@dataclass(frozen=True)
class _ActorReport:
    """A report of the run ``actor`` has."""

    actor: _Actor
    report: FromWorker


@dataclass(frozen=True)
class _ActorLost:
    """The actor's process ended (with the job it ran, if any)."""

    actor: _Actor
    error: str


@dataclass(frozen=True)
class _ActorReady:
    actor: _Actor
    report: ReadyReport | FatalReport
    node: str


class FarmBackend:
    """Ray actors in place of the worker process; ``state`` sums them up for health events."""

    def __init__(self, config: WorkerConfig, options: FarmOptions) -> None:
        self.config = config
        self.options = options
        self._ray: Any = None
        self._actors: list[_Actor] = []
        self._orphans: list[WorkerSpec] = []
        """Jobs whose actor died, to run next on a free actor (ahead of the queue)."""
        self._splits: dict[str, SplitRun] = {}
        """The split takes running, by job id (their waiting parts go ahead of the queue)."""
        self._losses: dict[str, int] = {}
        self._events: queue.Queue[_ActorReport | _ActorLost | _ActorReady] = queue.Queue()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        self._names = iter(range(1 << 30))
        self._stopping = False
        self._last_check_s = 0.0
        self._died_loading = False
        self.message: str | None = None
        """Why jobs wait (``no_farm_gpus``), for health events; None when actors are there."""
        self.pid: int | None = None

    # -- the Supervisor interface --------------------------------------------------------------

    def start(self) -> None:
        """Join the cluster and start the actors (their models load in the background)."""
        if self._ray is None:
            self._ray = connect(self.options.address)
        self._stopping = False
        self._fill()

    def fileno(self) -> int | None:
        return self._wake_read.fileno()

    @property
    def is_idle(self) -> bool:
        """Whether a job may be dispatched: a free actor and no orphan or part waiting."""
        waiting = self._orphans or any(run.has_waiting for run in self._splits.values())
        return not waiting and self._free() is not None

    @property
    def job_id(self) -> str | None:
        ids = self.job_ids
        return ids[0] if ids else None

    @property
    def job_ids(self) -> list[str]:
        """Every job an actor runs (a stale run included: it still holds the actor), or waits
        for one, once each."""
        running = [actor.spec.job_id for actor in self._actors if actor.spec is not None]
        ids = [*running, *(spec.job_id for spec in self._orphans), *self._splits]
        return list(dict.fromkeys(ids))

    @property
    def state(self) -> WorkerState:
        states = {actor.state for actor in self._actors}
        for state in (WorkerState.IDLE, WorkerState.BUSY, WorkerState.STARTING):
            if state in states:
                return state
        return WorkerState.STOPPED

    @property
    def device(self) -> str:
        ready = [a for a in self._actors if a.state in (WorkerState.IDLE, WorkerState.BUSY)]
        devices = sorted({actor.device for actor in ready})
        text = f"ray: {len(ready)} actors ({', '.join(devices) or 'none ready'})"
        return f"{text}; {self.message}" if self.message else text

    @property
    def actors_alive(self) -> int:
        return sum(a.state in (WorkerState.IDLE, WorkerState.BUSY) for a in self._actors)

    def runner_of(self, job_id: str) -> str | None:
        """``actor-N@node`` running the job (several, comma-separated, for a split take's
        segments), or None."""
        runners = [a.runner for a in self._actors if self._runs(a, job_id)]
        return ", ".join(runners) or None

    def run(self, spec: WorkerSpec) -> None:
        """Run ``spec`` on a free actor; a split take (several actors) starts its plan part."""
        actor = self._free()
        if actor is None or not self.is_idle:
            raise RuntimeError("no actor is free")
        max_segments = segments_for(self.options, spec, len(self._actors))
        if max_segments > 1:
            min_windows = self.options.min_segment_windows
            run = self._splits[spec.job_id] = SplitRun(spec, max_segments, min_windows)
            spec = run.next_part()
        self._give(actor, spec)

    def cancel(self, job_id: str) -> None:
        """Stop the job's runs (every part of a split take); they are stale from now on."""
        self._orphans = [spec for spec in self._orphans if spec.job_id != job_id]
        self._splits.pop(job_id, None)
        self._losses.pop(job_id, None)
        for actor in self._actors:
            if self._runs(actor, job_id):
                actor.stale = True
                actor.handle.cancel.remote(job_id)

    def receive(self) -> list[FromWorker | WorkerExit]:
        """The actors' reports since the last call (a lost actor's job is placed again)."""
        try:
            while self._wake_read.recv(4096):
                pass
        except BlockingIOError:
            pass
        reports: list[FromWorker | WorkerExit] = []
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                break
            reports.extend(self._track(event))
        self._place_orphans()
        now = time.monotonic()
        if now - self._last_check_s > RESOURCE_RECHECK_S and self._ray is not None:
            self._last_check_s = now
            try:
                self._fill()
            except Exception as error:  # the cluster is gone; the daemon keeps serving
                self.message = f"the Ray cluster does not answer: {error}"
        return reports

    def stop(self) -> None:
        """Stop every actor (running jobs stay where their checkpoints stand)."""
        self._stopping = True
        for actor in self._actors:
            actor.inbox.put(None)
            try:
                self._ray.kill(actor.handle)
            except Exception:  # already gone with its node
                log.debug("could not kill %s", actor.name, exc_info=True)
        self._actors, self._orphans, self._splits = [], [], {}
        if self._ray is not None:
            self._ray.shutdown()
            self._ray = None

    # -- actors ------------------------------------------------------------------------------

    def _free(self) -> _Actor | None:
        return next((a for a in self._actors if a.state is WorkerState.IDLE), None)

    @staticmethod
    def _runs(actor: _Actor, job_id: str) -> bool:
        """Whether ``actor`` runs (a part of) the job now, not a cancelled run of it."""
        return actor.spec is not None and actor.spec.job_id == job_id and not actor.stale

    def _give(self, actor: _Actor, spec: WorkerSpec) -> None:
        actor.state, actor.spec, actor.stale = WorkerState.BUSY, spec, False
        what = "" if spec.part is None else f" ({_part_name(spec)})"
        log.info(
            "job %s%s runs on %s (%s, pid %s)", spec.job_id, what, actor.name, actor.node, actor.pid
        )
        actor.inbox.put(spec)

    def _wanted(self) -> int:
        if self.options.num_actors > 0:
            return self.options.num_actors
        try:
            return int(self._ray.cluster_resources().get(self.options.resource, 0))
        except Exception:  # the cluster went away: keep what runs, look again later
            log.warning("the Ray cluster did not answer", exc_info=True)
            return len(self._actors)

    def _fill(self) -> None:
        """Start actors up to the number wanted; say why when the cluster has none to give
        (none after an actor died loading the models: the next would too)."""
        if self._died_loading:
            return
        wanted = self._wanted()
        if wanted == 0:
            resource = self.options.resource
            self.message = (
                f"[no_farm_gpus] the Ray cluster has no {resource} resource for an actor: jobs "
                "stay queued until a GPU node joins (docs/farm.md)"
            )
            log.warning("%s", self.message)
            return
        self.message = None
        while len(self._actors) < wanted:
            self._add_actor()

    def _add_actor(self) -> None:
        ray = self._ray
        needs: dict[str, Any] = {"num_gpus": 1}
        if self.options.resource != GPU_RESOURCE:
            needs = {"num_gpus": 0, "resources": {self.options.resource: 1}}
        env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
        remote = ray.remote(max_concurrency=4, max_restarts=0, num_cpus=0, **needs)(FarmActor)
        handle = remote.options(runtime_env={"env_vars": env} if env else None).remote(self.config)
        actor = _Actor(f"actor-{next(self._names)}", handle)
        self._actors.append(actor)
        threading.Thread(
            target=self._feed, args=(actor,), name=f"feed-{actor.name}", daemon=True
        ).start()

    def _feed(self, actor: _Actor) -> None:
        """Feeder thread: wait for the actor's models, then run what its inbox brings."""
        ray = self._ray
        try:
            report, node = ray.get(actor.handle.ready.remote())
            self._post(_ActorReady(actor, report, node))
            while (spec := actor.inbox.get()) is not None:
                for ref in actor.handle.run.remote(spec):
                    self._post(_ActorReport(actor, ray.get(ref)))
        except Exception as error:  # RayActorError: the process or node died; or Ray's own
            if not self._stopping:
                self._post(_ActorLost(actor, f"{type(error).__name__}: {error}"))

    def _post(self, event: _ActorReport | _ActorLost | _ActorReady) -> None:
        self._events.put(event)
        try:
            self._wake_write.send(b"!")
        except OSError:  # the daemon is stopping
            pass

    def _track(self, event: _ActorReport | _ActorLost | _ActorReady) -> list[FromWorker]:
        if isinstance(event, _ActorReady):
            return self._on_ready(event)
        if isinstance(event, _ActorLost):
            return self._on_lost(event)
        actor, report = event.actor, event.report
        spec, stale = actor.spec, actor.stale
        if isinstance(report, (DoneReport, FailedReport, CancelledReport, PartDoneReport)):
            actor.state, actor.spec, actor.stale = WorkerState.IDLE, None, False
            if isinstance(report, FailedReport) and report.worker_exits:
                self._replace(actor, "a fresh actor frees fragmented GPU memory")
                report = replace(report, worker_exits=False)
        if stale or spec is None:
            return []  # a cancelled run's last words
        if isinstance(report, PartDoneReport):
            log.info("job %s (%s) done on %s", spec.job_id, _part_name(spec), actor.name)
        run = self._splits.get(spec.job_id)
        reports = [report] if run is None else run.on_report(spec, report)
        if run is not None and run.ended:
            self._end_split(run)
        if any(isinstance(r, (DoneReport, FailedReport, CancelledReport)) for r in reports):
            self._losses.pop(spec.job_id, None)
        return reports

    def _end_split(self, run: SplitRun) -> None:
        """The split take ended (done, failed, cancelled by a part): stop its other parts."""
        del self._splits[run.job_id]
        for actor in self._actors:
            if self._runs(actor, run.job_id):
                actor.stale = True
                actor.handle.cancel.remote(run.job_id)

    def _on_ready(self, event: _ActorReady) -> list[FromWorker]:
        actor, report = event.actor, event.report
        if isinstance(report, FatalReport):
            actor.state = WorkerState.CRASHED
            return [report]
        actor.state, actor.pid, actor.node = WorkerState.IDLE, report.pid, event.node
        actor.device = report.device
        log.info("%s is ready on %s (%s, pid %s)", actor.name, actor.node, actor.device, actor.pid)
        return [report]

    def _on_lost(self, event: _ActorLost) -> list[FromWorker]:
        actor, spec = event.actor, event.actor.spec
        log.warning("%s (pid %s) was lost: %s", actor.name, actor.pid, event.error)
        was_ready = actor.state is not WorkerState.STARTING
        self._replace(actor, "the actor was lost", restart=was_ready)
        if not was_ready:  # no restart loop for an actor that dies loading the models
            self._died_loading = True
            self.message = f"{actor.name} died while loading the models: {event.error}"
        if spec is None or actor.stale:
            return []
        run = self._splits.get(spec.job_id)
        losses = self._losses[spec.job_id] = self._losses.get(spec.job_id, 0) + 1
        if losses < MAX_ACTOR_LOSSES:
            log.info("job %s runs again on the next free actor, from its checkpoint", spec.job_id)
            if run is not None:
                run.requeue(spec)
            else:
                self._orphans.append(spec)
            return []
        del self._losses[spec.job_id]
        if run is not None:
            self._end_split(run)
        error = ErrorInfo(
            "worker_crashed",
            f"{losses} Ray actors died during job {spec.job_id} (last: {event.error})",
            "retry the job: it resumes from its last finished window; the Ray logs of the "
            "actors' nodes say why they died (docs/farm.md)",
        )
        return [FailedReport(spec.job_id, error, worker_exits=False)]

    def _replace(self, actor: _Actor, why: str, *, restart: bool = True) -> None:
        """Drop ``actor`` (killing it if it still runs) and, unless ``restart`` is off, start
        a fresh one in its place."""
        log.info("replacing %s: %s", actor.name, why)
        self._actors.remove(actor)
        actor.inbox.put(None)
        try:
            self._ray.kill(actor.handle)
        except Exception:
            log.debug("could not kill %s", actor.name, exc_info=True)
        if restart and not self._stopping:
            try:
                self._add_actor()
            except Exception as error:  # the cluster is gone: the recheck tries again
                log.warning("could not start an actor in place of %s: %s", actor.name, error)

    def _place_orphans(self) -> None:
        """Give free actors the runs waiting ahead of the queue: lost jobs, then the parts
        of split takes in the order they started."""
        while (actor := self._free()) is not None:
            if self._orphans:
                self._give(actor, self._orphans.pop(0))
                continue
            run = next((run for run in self._splits.values() if run.has_waiting), None)
            if run is None:
                return
            self._give(actor, run.next_part())


def _part_name(spec: WorkerSpec) -> str:
    """A split take's part, for the log: ``plan``, ``windows 0-3``, ``assemble``."""
    part = spec.part
    if isinstance(part, SegmentPart):
        return f"windows {part.first}-{part.stop}"
    return "plan" if isinstance(part, PlanPart) else "assemble"
