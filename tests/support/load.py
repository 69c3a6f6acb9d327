"""A load run against a real daemon: clients on their own threads, each submitting jobs and
following every event of its jobs through the real sockets, with reconnects; a prober timing
requests while the worker is busy. Used by ``benchmarks/load.py`` and ``tests/daemon/test_load.py``.

A client keeps, per job, the ``seq`` numbers of the events it accepted in the order it got
them: a live event one above the last is accepted; one at or below it is a duplicate (dropped);
a jump, and every reconnect of the event socket, asks ``job_events`` for what was missed.
"""

from __future__ import annotations

import sqlite3
import statistics
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from xdub.client import DaemonClient
from xdub.errors import ProtocolError
from xdub.protocol.messages import JobEventsReply, JobStateEvent, ProgressEvent
from xdub.protocol.records import DubOptions, JobState

JobEvent = JobStateEvent | ProgressEvent
WATCH_TIMEOUT_S = 1800.0


@dataclass
class JobTrail:
    """What one client saw of one job."""

    seqs: list[int] = field(default_factory=list)
    """Accepted event numbers, in the order accepted."""
    state_seqs: list[int] = field(default_factory=list)
    done_events: int = 0
    finished: bool = False
    skipped: list[int] = field(default_factory=list)
    """Numbers a replay of the finished job skipped (its progress events are not kept)."""
    bad_gaps: list[int] = field(default_factory=list)
    """Numbers a replay of a job not yet finished skipped: a defect."""

    @property
    def last_seq(self) -> int:
        return self.seqs[-1] if self.seqs else 0


@dataclass
class ClientReport:
    name: str
    jobs: dict[str, JobTrail] = field(default_factory=dict)
    live_events: int = 0
    duplicates: int = 0
    replayed: int = 0
    gaps_filled: int = 0
    reconnects: int = 0
    error: str | None = None


class LoadClient:
    """One client: submits ``num_jobs`` jobs, then follows them until each has ended;
    reconnects its sockets after every ``reconnect_every`` live events (0: never)."""

    def __init__(
        self,
        connection_file: Path,
        name: str,
        otio: str,
        options: DubOptions,
        num_jobs: int,
        reconnect_every: int,
    ) -> None:
        self.client = DaemonClient(connection_file, client_name=name, timeout_s=60.0)
        self.report = ClientReport(name)
        self.otio, self.options, self.num_jobs = otio, options, num_jobs
        self.reconnect_every = reconnect_every

    def run(self) -> None:
        try:
            self.client.hello()
            for _ in range(self.num_jobs):
                job_id = self.client.submit(self.otio, self.options).job_id
                self.report.jobs[job_id] = JobTrail()
            self._catch_up()  # events published before the subscription took
            self._follow()
        except Exception as error:  # reported; the run's checks fail on it
            self.report.error = f"{type(error).__name__}: {error}"
        finally:
            self.client.close()

    def _follow(self) -> None:
        deadline = time.monotonic() + WATCH_TIMEOUT_S
        since_reconnect = 0
        while not all(trail.finished for trail in self.report.jobs.values()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.report.name}: jobs unfinished after the deadline")
            for event in self.client.events(1.0, list(self.report.jobs)):
                content = event.content
                assert isinstance(content, (JobStateEvent, ProgressEvent))
                self.report.live_events += 1
                self._take_live(content)
                since_reconnect += 1
                if self.reconnect_every and since_reconnect >= self.reconnect_every:
                    since_reconnect = 0
                    self.report.reconnects += 1
                    self.client.transport.close()  # the next call connects afresh
                    self.client.hello()
                    self._catch_up()
                    break
            else:
                self._catch_up()  # a quiet second: make sure nothing was missed

    def _take_live(self, event: JobEvent) -> None:
        trail = self.report.jobs[event.job_id]
        assert event.seq is not None, "an event without seq"
        if event.seq <= trail.last_seq:
            self.report.duplicates += 1
            return
        if event.seq > trail.last_seq + 1:
            self.report.gaps_filled += 1
            self._replay(event.job_id)
            if event.seq <= trail.last_seq:
                return
        self._accept(trail, event)

    def _catch_up(self) -> None:
        for job_id, trail in self.report.jobs.items():
            if not trail.finished:
                self._replay(job_id)

    def _replay(self, job_id: str) -> None:
        trail = self.report.jobs[job_id]
        reply: JobEventsReply = self.client.job_events(job_id, trail.last_seq)
        events: list[JobEvent] = sorted(
            [*reply.job_states, *reply.progress], key=lambda event: event.seq or 0
        )
        expected, skipped = trail.last_seq + 1, list[int]()
        for event in events:
            assert event.seq is not None
            skipped += range(expected, event.seq)
            self.report.replayed += 1
            self._accept(trail, event)
            expected = event.seq + 1
        skipped += range(expected, reply.last_seq + 1)
        (trail.skipped if trail.finished else trail.bad_gaps).extend(skipped)

    @staticmethod
    def _accept(trail: JobTrail, event: JobEvent) -> None:
        assert event.seq is not None and event.seq > trail.last_seq
        trail.seqs.append(event.seq)
        if isinstance(event, JobStateEvent):
            trail.state_seqs.append(event.seq)
            trail.done_events += event.state is JobState.DONE
            trail.finished = event.state.is_terminal


class Prober:
    """Times ``list`` requests (of running jobs) every ``interval_s`` on its own client;
    samples taken while a job was running count as "worker busy"."""

    def __init__(self, connection_file: Path, interval_s: float = 0.05) -> None:
        self.client = DaemonClient(connection_file, client_name="prober", timeout_s=60.0)
        self.interval_s = interval_s
        self.busy_latencies_s: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            while not self.stop.wait(self.interval_s):
                start = time.perf_counter()
                try:
                    running = self.client.list_jobs([JobState.RUNNING], limit=10)
                except ProtocolError:
                    continue
                if running:
                    self.busy_latencies_s.append(time.perf_counter() - start)
        finally:
            self.client.close()


def warm_up(connection_file: Path, otio: str, options: DubOptions) -> None:
    """Run one job to the end and delete it: the first job imports the media stack, which a
    load run should neither time nor count in the daemon's memory growth."""
    with DaemonClient(connection_file, client_name="warm-up", timeout_s=20.0) as client:
        warm = client.wait(client.submit(otio, options).job_id, 600)
        assert warm.state is JobState.DONE, warm.error
        client.delete(warm.job_id, delete_files=True)


def rss_bytes(pid: int) -> int:
    """The resident set size of process ``pid``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise ValueError(f"no VmRSS for pid {pid}")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


@dataclass
class LoadResult:
    clients: list[ClientReport]
    busy_latencies_s: list[float]
    wall_s: float

    @property
    def num_jobs(self) -> int:
        return sum(len(report.jobs) for report in self.clients)

    def latency_ms(self, fraction: float) -> float:
        return percentile(self.busy_latencies_s, fraction) * 1e3

    def summary(self) -> str:
        reports = self.clients
        p50 = statistics.median(self.busy_latencies_s) * 1e3 if self.busy_latencies_s else 0.0
        return (
            f"{len(reports)} clients, {self.num_jobs} jobs in {self.wall_s:.0f} s; events "
            f"live {sum(r.live_events for r in reports)}, replayed "
            f"{sum(r.replayed for r in reports)}, duplicates dropped "
            f"{sum(r.duplicates for r in reports)}, gaps filled "
            f"{sum(r.gaps_filled for r in reports)}, reconnects "
            f"{sum(r.reconnects for r in reports)}; list latency while busy over "
            f"{len(self.busy_latencies_s)} requests: p50 {p50:.1f} ms, "
            f"p99 {self.latency_ms(0.99) if self.busy_latencies_s else 0.0:.1f} ms"
        )


def run_load(
    connection_file: Path,
    otio: str,
    options: DubOptions,
    *,
    num_clients: int,
    jobs_per_client: int,
    reconnect_every: int,
) -> LoadResult:
    """Run the clients and the prober until every client's jobs have ended."""
    clients = [
        LoadClient(
            connection_file, f"load-{index}", otio, options, jobs_per_client, reconnect_every
        )
        for index in range(num_clients)
    ]
    prober = Prober(connection_file)
    prober_thread = threading.Thread(target=prober.run, name="prober", daemon=True)
    threads = [threading.Thread(target=c.run, name=c.report.name, daemon=True) for c in clients]
    started = time.monotonic()
    prober_thread.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    prober.stop.set()
    prober_thread.join()
    return LoadResult(
        [c.report for c in clients], prober.busy_latencies_s, time.monotonic() - started
    )


def stored_attempts(store_path: Path) -> dict[str, tuple[str, int]]:
    """Every job in the store: ``job_id -> (state, attempts)``."""
    with closing(sqlite3.connect(store_path)) as db:
        rows = db.execute("SELECT job_id, state, attempts FROM jobs").fetchall()
    return {job_id: (state, attempts) for job_id, state, attempts in rows}


def check_load(result: LoadResult, store_path: Path, authoritative: DaemonClient) -> list[str]:
    """What the run got wrong (empty: nothing): every job done exactly once (one done event
    per client, one attempt in the store), and every client holding, per job, increasing
    ``seq`` numbers with every ``job_state`` event and no gap the daemon could have filled."""
    problems = []
    stored = stored_attempts(store_path)
    for report in result.clients:
        if report.error:
            problems.append(f"{report.name}: {report.error}")
        for job_id, trail in report.jobs.items():
            where = f"{report.name} job {job_id}"
            if stored.get(job_id) != ("done", 1):
                problems.append(f"{where}: stored as {stored.get(job_id)}, not done once")
            if trail.done_events != 1:
                problems.append(f"{where}: {trail.done_events} done events")
            if trail.seqs != sorted(set(trail.seqs)):
                problems.append(f"{where}: events out of order {trail.seqs}")
            kept = authoritative.job_events(job_id)
            kept_states = [event.seq for event in kept.job_states]
            if trail.state_seqs != kept_states:
                problems.append(f"{where}: state events {trail.state_seqs} != {kept_states}")
            missing = set(range(1, kept.last_seq + 1)) - set(trail.seqs)
            if trail.bad_gaps or missing != set(trail.skipped):
                problems.append(f"{where}: events {sorted(missing)} never reached the client")
    return problems
