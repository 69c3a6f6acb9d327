"""The "XDub - Collect finished takes" command: place takes of jobs that finished meanwhile.

Stdlib-only. The daemon keeps every job; a done job whose host ids name this project and timeline
and whose item is still there gets its take placed (as in "Dub clip") unless the item already has
it, so running this twice changes nothing the second time. Takes are placed in job order, and
only an item's newest take becomes its selected one: an older job collected after a newer one
was placed never replaces what the editor sees. A remote daemon's takes are downloaded
(into the folder "Dub clip" uses, beside the item's original media) unless a copy is there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path, PureWindowsPath
from typing import Any

from xdub_resolve.dub_clip import Write, takes_folder
from xdub_resolve.host import HostError, ResolveTimeline, acquire_resolve
from xdub_resolve.link import local_take, open_client
from xdub_resolve.settings import job_options
from xdub_resolve.takes import place_take
from xdub_resolve.timing import TimingError
from xdub_resolve.xdub_protocol.client import DaemonClient
from xdub_resolve.xdub_protocol.exceptions import XdubError
from xdub_resolve.xdub_protocol.records import JobInfo, JobState
from xdub_resolve.xdub_protocol.takes import Take, read_take

LIST_LIMIT = 1000
Finished = tuple[Take, str]
"""A done job's take and the job's ``created_at`` (ISO UTC text: it sorts as time does)."""


def place_finished(host: ResolveTimeline, finished: Sequence[Finished], write: Write) -> int:
    """Place the takes of this timeline not placed yet, oldest job first; returns how many."""
    ours = [take for take, _ in sorted(finished, key=lambda pair: pair[1]) if _of(host, take)]
    newest = {str(take.host_ids.get("item", "")): take.job_id for take in ours}
    placed = 0
    for take in ours:
        item_id = str(take.host_ids.get("item", ""))
        item = host.find_item(item_id)
        if item is None:
            write(f"XDub: job {take.job_id}: its clip is no longer on this timeline")
            continue
        if host.has_take(item, take.path):
            continue
        select = newest[item_id] == take.job_id
        how = place_take(host, item, take, select=select, write=write)
        write(f"XDub: job {take.job_id}: take placed ({how}) on {item.GetName()!r}")
        placed += 1
    return placed


def _of(host: ResolveTimeline, take: Take) -> bool:
    """Whether ``take`` is of this project's timeline."""
    return (
        take.host == "resolve"
        and take.host_ids.get("project") == str(host.project.GetName() or "")
        and take.host_ids.get("timeline") == host.name
    )


def _original_media_path(item: Any) -> str:
    """The item's own file (its first take once it has takes), as "Dub clip" sent it."""
    first = item.GetTakeByIndex(1) if int(item.GetTakesCount() or 0) else None
    pool_item = (first or {}).get("mediaPoolItem") or item.GetMediaPoolItem()
    return str((pool_item.GetClipProperty() or {}).get("File Path") or "")


def _local(host: ResolveTimeline, client: DaemonClient, job: JobInfo, write: Write) -> Take:
    """A remote daemon's take of ``job`` on this machine: the copy in the item's takes folder,
    downloaded unless it is there (a take whose item is gone is left to ``place_finished``)."""
    take = read_take(job.result_otio or "")
    item = host.find_item(str(take.host_ids.get("item", ""))) if _of(host, take) else None
    if item is None:
        return take
    folder = takes_folder(_original_media_path(item), job_options())
    copy = Path(folder) / PureWindowsPath(take.path).name  # either separator
    if copy.is_file():
        return dataclasses.replace(take, path=str(copy))
    return local_take(client, job.job_id, job.result_otio or "", write, into=str(copy))


def run(
    namespace: Mapping[str, Any], *, write: Write = print, connection_file: Path | None = None
) -> int:
    """Place every finished take of this timeline not placed yet; 0 unless something failed."""
    try:
        host = ResolveTimeline(acquire_resolve(namespace))
        with open_client(connection_file) as client:
            jobs = [job for job in client.list_jobs([JobState.DONE], LIST_LIMIT) if job.result_otio]
            if client.sends_media:
                finished = [(_local(host, client, job, write), job.created_at) for job in jobs]
            else:
                finished = [(read_take(job.result_otio or ""), job.created_at) for job in jobs]
        placed = place_finished(host, finished, write)
        write(f"XDub: {placed} finished take(s) collected")
        return 0
    except (HostError, TimingError, XdubError, ValueError) as error:
        write(f"XDub: {error}")
        return 1
