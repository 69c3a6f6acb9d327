"""``TransferDesk``: the daemon's side of media transfer (protocol 1.4): uploads into the
``UploadStore`` and done jobs' takes read back in chunks. ``handlers()`` is what the server's
dispatch table adds."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import cast

from xdub.errors import JobError, ProtocolError
from xdub.protocol.errors import ErrorCode
from xdub.protocol.messages import Submit
from xdub.protocol.records import JobState
from xdub.protocol.schema import Content
from xdub.protocol.signing import Message
from xdub.protocol.takes import read_take
from xdub.protocol.transfer import chunk_payload
from xdub.protocol.transfer_messages import (
    TakeChunk,
    TakeChunkReply,
    TakeStatus,
    TakeStatusReply,
    UploadChunk,
    UploadStatus,
    chunk_count,
)
from xdub_daemon.config import Retention
from xdub_daemon.store import JobStore
from xdub_daemon.uploads import UploadStore, file_sha256


class TransferDesk:
    """Serves ``upload_status``, ``upload_chunk``, ``take_status`` and ``take_chunk``."""

    def __init__(self, store: JobStore, uploads: UploadStore) -> None:
        self.store = store
        self.uploads = uploads
        self._take_sha256: dict[tuple[str, int, int], str] = {}
        """(path, size, mtime_ns) -> sha256: a take is hashed once, not per chunk."""

    def handlers(self) -> dict[str, Callable[[Message], Content]]:
        return {
            UploadStatus.MSG_TYPE: lambda m: self.uploads.status(cast(UploadStatus, m.content)),
            UploadChunk.MSG_TYPE: lambda m: self.uploads.put_chunk(cast(UploadChunk, m.content)),
            TakeStatus.MSG_TYPE: lambda m: self.take_status(cast(TakeStatus, m.content)),
            TakeChunk.MSG_TYPE: lambda m: self.take_chunk(cast(TakeChunk, m.content)),
        }
        """(Each content was checked against its ``msg_type``'s class on receipt.)"""

    def _take_file(self, job_id: str) -> Path:
        job = self.store.get(job_id)
        if job.state is not JobState.DONE or not job.result_otio:
            raise JobError(
                f"job {job_id} is {job.state.value}, it has no take",
                code=ErrorCode.BAD_STATE.value,
                hint="wait for the job to finish (or retry it if it failed)",
            )
        path = Path(read_take(job.result_otio).path)
        if not path.is_file():
            raise JobError(
                f"the take of job {job_id} is no longer on the daemon's disk",
                code=ErrorCode.NOT_FOUND.value,
                hint="retry the job to make it again",
            )
        return path

    def take_status(self, request: TakeStatus) -> TakeStatusReply:
        path = self._take_file(request.job_id)
        info = path.stat()
        key = (str(path), info.st_size, info.st_mtime_ns)
        if key not in self._take_sha256:
            self._take_sha256[key] = file_sha256(path)
        count = chunk_count(info.st_size, request.chunk_bytes)
        return TakeStatusReply(
            request.job_id, path.name, info.st_size, self._take_sha256[key], count
        )

    def take_chunk(self, request: TakeChunk) -> TakeChunkReply:
        path = self._take_file(request.job_id)
        count = chunk_count(path.stat().st_size, request.chunk_bytes)
        if request.index >= count:
            raise ProtocolError(
                f"chunk {request.index} is past the take's {count} chunks",
                code=ErrorCode.BAD_CONTENT.value,
            )
        fd = os.open(path, os.O_RDONLY)
        try:
            data = os.pread(fd, request.chunk_bytes, request.index * request.chunk_bytes)
        finally:
            os.close(fd)
        text, chunk_sha256 = chunk_payload(data)
        return TakeChunkReply(request.job_id, request.index, text, chunk_sha256)

    def resolve_submit(self, request: Message) -> Message:
        """A ``submit`` whose job names uploads (``xdub-upload:<sha256>``), naming their files
        instead; ``unknown_upload`` for content this daemon does not hold."""
        submit = cast(Submit, request.content)
        otio = self.uploads.resolve(submit.otio)
        if otio == submit.otio:
            return request
        return dataclasses.replace(request, content=dataclasses.replace(submit, otio=otio))

    def prune(self, retention: Retention) -> None:
        """Retention of the uploads; those a queued or running job reads stay."""
        active = self.store.list_jobs([JobState.QUEUED, JobState.RUNNING], limit=100_000)
        self.uploads.prune(retention, self.uploads.used_by(job.otio for job in active))
