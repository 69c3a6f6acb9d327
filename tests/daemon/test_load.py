"""The short load run (``benchmarks/load.py`` runs the full one): 2 clients x 3 jobs through the
real sockets, reconnecting every few events; every job done exactly once, every client holding
every event of its jobs in ``seq`` order, the daemon's memory bounded."""

from __future__ import annotations

from pathlib import Path

from support.daemon import Clip
from support.load import check_load, rss_bytes, run_load, warm_up

RSS_GROWTH_LIMIT_BYTES = 48 * 2**20
"""The daemon process (not its worker) may grow this much over the run: SQLite's page cache,
ZeroMQ buffers and Python's allocator arenas, not a leak per job or event."""


def test_two_clients_three_jobs_each_every_job_once_every_event_in_order(
    daemon_factory, short_clip: Clip, fast_options
) -> None:
    daemon = daemon_factory()
    daemon.start()
    warm_up(daemon.connection_file, short_clip.otio, fast_options())
    rss_before = rss_bytes(daemon.pid)
    result = run_load(
        daemon.connection_file,
        short_clip.otio,
        fast_options(),
        num_clients=2,
        jobs_per_client=3,
        reconnect_every=7,
    )
    print(result.summary())
    store = daemon.data_dir / "jobs.sqlite3"
    with daemon.client("check") as client:
        assert check_load(result, store, client) == []
    assert result.num_jobs == 6
    assert sum(report.reconnects for report in result.clients) >= 2  # the replay was needed
    assert result.busy_latencies_s, "no request was timed while the worker was busy"
    growth = rss_bytes(daemon.pid) - rss_before
    assert growth < RSS_GROWTH_LIMIT_BYTES, f"the daemon grew {growth / 2**20:.1f} MiB"
    assert Path(store).stat().st_size < 4 * 2**20
