"""The daemon link off Blender's UI thread: a worker thread owns the daemon client.

The UI thread puts commands (submit, cancel, watch) on ``commands``; the worker sends them
with the one ``DaemonClient`` (the protocol copy's), follows the jobs it watches with the
client's ``JobWatch`` (events, re-reads every ``refresh_s``, replay after a daemon restart),
and puts ``Update`` records on ``updates``. Nothing here touches ``bpy``: ``jobs.drain``
applies the updates on the main thread (from a ``bpy.app.timers`` callback, or directly in tests).

A remote daemon's take (the connection file decides: ``DaemonClient.sends_media``) is downloaded
here too, into the job's takes folder, before its done update goes out with ``take_path``: the
download's progress comes as the ``downloading`` stage. ``cancel`` during the download stops it
(the job is done: its update says ``done`` with ``take_stopped`` and no ``result_otio``) and
keeps the chunks fetched so far in the hidden partial file; following the job again
(``watch``: the panel's Download Take, or Reconnect after a cut-off download) resumes from them.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
from dataclasses import dataclass
from pathlib import Path

from .xdub_protocol.client import DaemonClient
from .xdub_protocol.download import DownloadCancelled
from .xdub_protocol.exceptions import XdubError
from .xdub_protocol.records import DubOptions
from .xdub_protocol.transfer_messages import DEFAULT_CHUNK_BYTES
from .xdub_protocol.watch import JobUpdate, JobWatch

log = logging.getLogger(__name__)

CLIENT_NAME = "blender"
DOWNLOAD_STAGE = "downloading"
"""The ``stage`` of a remote take's download progress."""
STOPPED_HINT = "Download Take in the xdub sidebar resumes it"


@dataclass(frozen=True)
class Update:
    """What happened to a job. ``state`` is a JobState value or "" when unchanged; ``error``
    is ``(code, message, hint)`` when a request or the job failed."""

    job_id: str
    state: str = ""
    stage: str = ""
    fraction: float | None = None
    result_otio: str | None = None
    error: tuple[str, str, str] | None = None
    take_path: str = ""
    """The downloaded take on this machine (a remote daemon's); "": the take's own path."""
    take_stopped: bool = False
    """The job is done but its take's download was cancelled (``watch`` resumes it)."""


@dataclass(frozen=True)
class _Command:
    kind: str  # "submit", "cancel" or "watch"
    job_id: str
    otio: str = ""
    options: DubOptions | None = None
    takes_dir: str = ""


def _error(job_id: str, error: XdubError) -> Update:
    return Update(job_id, error=(error.code, error.message, error.hint or ""))


def _from_update(update: JobUpdate) -> Update:
    error = update.error
    progress = update.progress
    return Update(
        update.job_id,
        state=update.state.value if update.state is not None else "",
        stage=progress.stage.value if progress else "",
        fraction=progress.fraction if progress else None,
        result_otio=update.result_otio,
        error=(error.code, error.message, error.hint or "") if error else None,
    )


class DaemonWorker:
    """A thread that talks to the daemon named by ``connection_file`` (default: the usual one)
    through ``DaemonClient``; ``JobWatch`` follows the jobs (events, re-reads, reconnects).
    ``chunk_bytes``: the size of the chunks a remote daemon's media and takes travel in."""

    def __init__(
        self,
        connection_file: Path | None = None,
        *,
        client_version: str = "",
        poll_s: float = 0.1,
        refresh_s: float = 2.0,
        timeout_s: float = 10.0,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    ) -> None:
        self.connection_file = connection_file
        self.chunk_bytes = chunk_bytes
        self.client_version = client_version
        self.poll_s = poll_s
        self.refresh_s = refresh_s
        self.timeout_s = timeout_s
        self.commands: queue.Queue[_Command] = queue.Queue()
        self.updates: queue.Queue[Update] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._takes_dirs: dict[str, str] = {}
        """Job id -> where its take goes when it is downloaded (the worker thread's)."""
        self._cancelled: set[str] = set()
        """Jobs the UI cancelled (read by a running download; set operations are atomic)."""

    # -- UI thread ------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="xdub-daemon", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Ask the thread to finish and join it (``unregister`` calls this)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._thread = None

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def submit(self, job_id: str, otio: str, options: DubOptions, takes_dir: str) -> None:
        """Send the job; a remote daemon's take will be downloaded into ``takes_dir``."""
        self.commands.put(_Command("submit", job_id, otio, options, takes_dir))

    def cancel(self, job_id: str) -> None:
        """Cancel the job, or the download of its take when it is done already."""
        self._cancelled.add(job_id)
        self.commands.put(_Command("cancel", job_id))

    def watch(self, job_id: str, takes_dir: str) -> None:
        """Follow a job submitted earlier (e.g. by a .blend that was closed and reopened)."""
        self._cancelled.discard(job_id)
        self.commands.put(_Command("watch", job_id, takes_dir=takes_dir))

    # -- worker thread --------------------------------------------------------------------

    def _run(self) -> None:
        client = DaemonClient(
            self.connection_file,
            client_name=CLIENT_NAME,
            client_version=self.client_version,
            timeout_s=self.timeout_s,
            chunk_bytes=self.chunk_bytes,
        )
        watch = client.watch(refresh_s=self.refresh_s)
        try:
            while not self._stop.is_set():
                self._run_commands(client, watch)
                if not watch.job_ids:
                    self._stop.wait(self.poll_s)
                    continue
                self._follow(client, watch)
        finally:
            client.close()

    def _run_commands(self, client: DaemonClient, watch: JobWatch) -> None:
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                return
            if command.takes_dir:
                self._takes_dirs[command.job_id] = command.takes_dir
            try:
                if command.kind == "submit":
                    options = command.options or DubOptions()
                    reply = client.submit(command.otio, options, job_id=command.job_id)
                    self.updates.put(Update(command.job_id, state=reply.state.value))
                elif command.kind == "cancel":
                    state = client.cancel(command.job_id)
                    self.updates.put(Update(command.job_id, state=state.value))
                    continue
                watch.add(command.job_id)
            except XdubError as error:
                if command.kind == "cancel" and error.code == "bad_state":
                    continue  # the job is done: its take's download (if any) stops instead
                log.warning("xdub %s of job %s failed: %s", command.kind, command.job_id, error)
                self.updates.put(_error(command.job_id, error))

    def _follow(self, client: DaemonClient, watch: JobWatch) -> None:
        try:
            updates = watch.poll(self.poll_s)
        except XdubError as error:  # not a daemon restart: the daemon stayed away too long
            for job_id in sorted(watch.job_ids):
                self.updates.put(_error(job_id, error))
                watch.discard(job_id)
            return
        for update in updates:
            done = update.state is not None and update.state.value == "done"
            if done and update.result_otio and client.sends_media:
                self.updates.put(self._download(client, update))
            else:
                self.updates.put(_from_update(update))

    def _download(self, client: DaemonClient, update: JobUpdate) -> Update:
        """The done update of a remote job once its take is here (or why it is not)."""
        job_id = update.job_id

        def progress(done_bytes: int, size_bytes: int) -> None:
            if job_id in self._cancelled or self._stop.is_set():
                raise DownloadCancelled(
                    f"the download of the take of job {job_id} was cancelled",
                    keep_partial=True,
                    hint=STOPPED_HINT,
                )
            self.updates.put(Update(job_id, stage=DOWNLOAD_STAGE, fraction=done_bytes / size_bytes))

        self.updates.put(Update(job_id, stage=DOWNLOAD_STAGE, fraction=0.0))
        folder = self._takes_dirs.get(job_id)
        try:
            if folder is not None:
                Path(folder).mkdir(parents=True, exist_ok=True)
            take = client.fetch_take(job_id, folder, progress=progress)
        except DownloadCancelled as error:
            return dataclasses.replace(_error(job_id, error), state="done", take_stopped=True)
        except XdubError as error:
            log.warning("the take of job %s did not download: %s", job_id, error)
            return _error(job_id, error)  # the job stays pending: Reconnect resumes it
        return dataclasses.replace(_from_update(update), take_path=take.path)
