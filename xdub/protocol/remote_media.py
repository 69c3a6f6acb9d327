"""The media half of ``DaemonClient`` for a remote daemon: uploads on submit, take downloads.

Stdlib-only and Python 3.10-compatible: hosts' Pythons get a copy of this module.
``RemoteMedia`` uploads the files a job references (``transfer.upload_job_media``), after
``prepare`` (when set) rewrote the job in a temp folder: xdub's own client
(``xdub.client``) sets it to ``xdub.job.cut_source.cut_job_source``, which names the cut of a
long source's used range instead of the source; hosts' copies have none and send the whole
file. It remembers the ``output_dir`` each submit named, where ``download`` puts the take
(``download.download_take``, resumable) unless the caller names another place.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from xdub.errors import ProtocolError, XdubError
from xdub.protocol.download import Progress, download_take
from xdub.protocol.errors import ErrorCode
from xdub.protocol.messages import HelloReply
from xdub.protocol.schema import Content, parse_version
from xdub.protocol.transfer import TransferStats, Uploader, upload_job_media
from xdub.protocol.transfer_messages import DEFAULT_CHUNK_BYTES

TRANSFER_VERSION = (1, 4)
"""The protocol version that carries media (``upload_status`` ...)."""

Prepare = Callable[[str, Path], str]
"""``prepare(otio_json, folder)``: the job to upload, any file it makes put in ``folder``."""


class RemoteMedia:
    """Transfers through ``call`` to the daemon ``daemon()`` says hello for, in chunks of
    ``chunk_bytes``; ``last_transfer`` is what the last upload or download moved."""

    def __init__(
        self,
        call: Callable[[Content], Content],
        daemon: Callable[[], HelloReply],
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    ) -> None:
        self.call = call
        self.daemon = daemon
        self.chunk_bytes = chunk_bytes
        self.last_transfer = TransferStats()
        self.take_folders: dict[str, str] = {}
        """Job id -> the ``output_dir`` its submit asked for, where ``download`` puts it."""
        self.prepare: Prepare | None = None
        """Rewrites a job before its files are uploaded (xdub's client: the used-range cut)."""

    def uploader(self) -> Uploader:
        """A new ``Uploader`` (what ``upload`` uses)."""
        return Uploader(self.call, self.chunk_bytes)

    def upload(self, otio_json: str) -> str:
        """Upload the files ``otio_json`` references; returns it naming them by hash."""
        self.require_transfer()
        uploader = self.uploader()
        with tempfile.TemporaryDirectory(prefix="xdub-upload-") as folder:
            if self.prepare is not None:
                otio_json = self.prepare(otio_json, Path(folder))
            otio_json = upload_job_media(uploader, otio_json)
        self.last_transfer = uploader.stats
        return otio_json

    def download(
        self, job_id: str, into: str | Path | None, progress: Progress | None = None
    ) -> Path:
        """The take of ``job_id`` downloaded into ``into`` (a file or folder), else into its
        submit's ``output_dir``; returns the local file."""
        folder = self.take_folders.get(job_id)
        target = into if into is not None else folder
        if target is None:
            raise XdubError(
                f"where should the take of job {job_id} go? The daemon is on another machine",
                code=ErrorCode.BAD_OUTPUT_PATH.value,
                hint="name a file or folder on this machine (fetch_take's into)",
            )
        self.require_transfer()
        path, self.last_transfer = download_take(
            self.call,
            job_id,
            Path(target),
            self.chunk_bytes,
            into_folder=into is None,
            progress=progress,
        )
        return path

    def require_transfer(self) -> None:
        """Raise ``unsupported_version`` for a daemon older than 1.4 (it carries no media)."""
        version = self.daemon().protocol_version
        if parse_version(version) < TRANSFER_VERSION:
            raise ProtocolError(
                f"the daemon speaks protocol {version}, which cannot carry media to another "
                "machine",
                code=ErrorCode.UNSUPPORTED_VERSION.value,
                hint="update xdub on the daemon's machine to the version of this one",
            )
