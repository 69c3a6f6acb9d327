"""Load: N clients x M jobs each on a short clip (tiny test model, CPU) through a real daemon's
sockets on loopback, every client reconnecting its sockets every few events.

Checks and prints: every job done exactly once (one attempt in the store, one ``done`` event
per client), every client holding every event of its jobs in ``seq`` order (gaps filled by
``job_events``), the latency of ``list`` requests while the worker is busy (p50/p99), the
daemon's RSS (its server process, not the worker) after a warm-up job and after the run, and
the SQLite file after the run, after the daemon's clean stop and after retention pruning.

    .venv/bin/python benchmarks/load.py [--clients 5] [--jobs 20] [--reconnect-every 25]

The engine is ``tests/support/load.py`` (tests/daemon/test_load.py runs 2 x 3 of it).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.daemon import DaemonProcess, make_clip  # noqa: E402
from support.load import check_load, rss_bytes, run_load, warm_up  # noqa: E402

from xdub.protocol.records import Codec, DubOptions  # noqa: E402
from xdub_daemon.config import Retention  # noqa: E402
from xdub_daemon.store import JobStore  # noqa: E402

SHORT_CLIP_S = 0.4
RETAINED_JOBS = 20


def _mib(size_bytes: int) -> str:
    return f"{size_bytes / 2**20:.2f} MiB"


def _store_size(data_dir: Path) -> str:
    files = [data_dir / name for name in ("jobs.sqlite3", "jobs.sqlite3-wal")]
    sizes = [path.stat().st_size if path.exists() else 0 for path in files]
    with closing(sqlite3.connect(files[0])) as db:
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        events = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        jobs = db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
    return (
        f"db {_mib(sizes[0])} + wal {_mib(sizes[1])}; {jobs} jobs, {events} kept events, "
        f"{pages} pages ({free} free)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=20, help="jobs per client")
    parser.add_argument("--reconnect-every", type=int, default=25, help="live events")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xdub-load-") as folder:
        root = Path(folder)
        from xdub.weights.tiny import make_tiny_folder

        model = make_tiny_folder(root / "model").root
        clip = make_clip(root, "short", SHORT_CLIP_S, seed=1)
        options = DubOptions(codec=Codec.H264, num_steps=1, seed=7)
        daemon = DaemonProcess(root / "daemon", model)
        daemon.start()
        try:
            rss_ready = rss_bytes(daemon.pid)
            warm_up(daemon.connection_file, clip.otio, options)
            rss_before = rss_bytes(daemon.pid)
            result = run_load(
                daemon.connection_file,
                clip.otio,
                options,
                num_clients=args.clients,
                jobs_per_client=args.jobs,
                reconnect_every=args.reconnect_every,
            )
            rss_after = rss_bytes(daemon.pid)
            with daemon.client("check") as client:
                problems = check_load(result, daemon.data_dir / "jobs.sqlite3", client)
            size_after_run = _store_size(daemon.data_dir)
        finally:
            daemon.stop()
        size_after_stop = _store_size(daemon.data_dir)
        store = JobStore(daemon.data_dir / "jobs.sqlite3", daemon.data_dir / "jobs")
        pruned = store.prune(Retention(max_jobs=RETAINED_JOBS))  # what a daemon start does
        store.close()
        size_after_prune = _store_size(daemon.data_dir)

    print(result.summary())
    print(
        f"daemon RSS: {_mib(rss_ready)} ready, {_mib(rss_before)} after the warm-up job, "
        f"{_mib(rss_after)} after the run ({(rss_after - rss_before) / 2**20:+.2f} MiB)"
    )
    print(f"SQLite after the run: {size_after_run}")
    print(f"SQLite after the daemon's stop: {size_after_stop}")
    print(
        f"SQLite after retention (keep {RETAINED_JOBS}, {len(pruned)} pruned): {size_after_prune}"
    )
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print("OK" if not problems else f"{len(problems)} problems")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
