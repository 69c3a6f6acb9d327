"""The "XDub - Collect finished takes" command: place takes of jobs that finished meanwhile.

Stdlib-only. The daemon keeps every job; a done job whose host ids name this project and timeline
and whose item is still there gets its take placed (as in "Dub clip") unless the item already has
it, so running this twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from xdub_resolve.dub_clip import Write
from xdub_resolve.host import HostError, ResolveTimeline, acquire_resolve
from xdub_resolve.link import open_client
from xdub_resolve.takes import place_take
from xdub_resolve.timing import TimingError
from xdub_resolve.xdub_protocol.exceptions import XdubError
from xdub_resolve.xdub_protocol.records import JobState
from xdub_resolve.xdub_protocol.takes import read_take

LIST_LIMIT = 1000


def run(
    namespace: Mapping[str, Any], *, write: Write = print, connection_file: Path | None = None
) -> int:
    """Place every finished take of this timeline not placed yet; 0 unless something failed."""
    try:
        host = ResolveTimeline(acquire_resolve(namespace))
        project = str(host.project.GetName() or "")
        with open_client(connection_file) as client:
            jobs = client.list_jobs([JobState.DONE], LIST_LIMIT)
        placed = 0
        for job in jobs:
            take = read_take(job.result_otio) if job.result_otio else None
            ids = take.host_ids if take else {}
            if take is None or take.host != "resolve":
                continue
            if ids.get("project") != project or ids.get("timeline") != host.name:
                continue
            item = host.find_item(str(ids.get("item", "")))
            if item is None:
                write(f"XDub: job {job.job_id}: its clip is no longer on this timeline")
                continue
            if host.has_take(item, take.path):
                continue
            how = place_take(host, item, take)
            write(f"XDub: job {job.job_id}: take placed ({how}) on {item.GetName()!r}")
            placed += 1
        write(f"XDub: {placed} finished take(s) collected")
        return 0
    except (HostError, TimingError, XdubError, ValueError) as error:
        write(f"XDub: {error}")
        return 1
