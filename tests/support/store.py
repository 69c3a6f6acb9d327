"""A job added straight into a real ``JobStore``, for the store's own tests."""

from __future__ import annotations

from xdub.protocol.records import DubOptions
from xdub_daemon.store import JobStore


def add_job(store: JobStore, job_id: str) -> None:
    """Queue job ``job_id`` (an empty OTIO, seed 1, priority 0, from a CLI client)."""
    store.add(
        job_id,
        name=job_id,
        otio="{}",
        options=DubOptions(seed=1),
        priority=0,
        client="t",
        host="cli",
    )
