"""A done job's take from a remote daemon: chunked, hashed, resumable (docs/protocol.md,
"Media transfer").

Stdlib-only and Python 3.10-compatible: hosts' Pythons get a copy of this module.
``download_take`` fetches the take into the file the caller names through a hidden partial
file beside it (``.<name>.<sha256 prefix>.part``) and a note of the sha256 of every chunk in
it (``….part.sha256``: the chunk size, then one hash a line, appended as chunks arrive). Each
chunk is checked as it arrives and the whole take before it is renamed into place, so no
partial take is ever presented. A download cut off (the daemon went away, a request timed
out, a chunk kept arriving damaged) keeps both files: the next one re-hashes the chunks they
hold and fetches only those after them; so does ``progress`` raising
``DownloadCancelled(keep_partial=True)`` (a cancel the user can take back). Anything else (a
plain ``DownloadCancelled``, a take that came out different) removes both.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import cast

from xdub.errors import ProtocolError, XdubError
from xdub.protocol.errors import ErrorCode
from xdub.protocol.schema import Content
from xdub.protocol.transfer import CHUNK_ATTEMPTS, TransferStats
from xdub.protocol.transfer_messages import (
    DEFAULT_CHUNK_BYTES,
    TakeChunk,
    TakeChunkReply,
    TakeStatus,
    TakeStatusReply,
)

Call = Callable[[Content], Content]
Progress = Callable[[int, int], None]
"""``progress(bytes_done, size_bytes)`` after each chunk; raise ``DownloadCancelled`` to stop."""
RESUMABLE_CODES = (
    ErrorCode.DAEMON_NOT_RUNNING.value,
    ErrorCode.TIMEOUT.value,
    ErrorCode.CHUNK_CORRUPT.value,
)
"""Errors that keep the partial file for the next download to resume from."""


class DownloadCancelled(XdubError):
    """The caller stopped a download: its partial file is removed, or with ``keep_partial``
    kept for the next download to resume from."""

    def __init__(
        self,
        message: str = "the take download was cancelled",
        *,
        keep_partial: bool = False,
        hint: str = "fetch the take again",
    ) -> None:
        super().__init__(message, code=ErrorCode.BAD_STATE.value, hint=hint)
        self.keep_partial = keep_partial


def partial_paths(destination: Path, sha256: str) -> tuple[Path, Path]:
    """The hidden partial file of the take ``sha256`` bound for ``destination``, and its note."""
    part = destination.with_name(f".{destination.name}.{sha256[:16]}.part")
    return part, part.with_name(part.name + ".sha256")


def _resumable_chunks(
    part: Path, note: Path, status: TakeStatusReply, chunk_bytes: int
) -> list[str]:
    """The sha256s of the leading chunks of ``part`` that match its note (cut at the first
    chunk that does not); the caller truncates ``part`` to them."""
    try:
        size_line, *hashes = note.read_text(encoding="ascii").splitlines()
        if int(size_line) != chunk_bytes:
            hashes = []
    except (OSError, ValueError):
        hashes = []
    kept: list[str] = []
    if not part.is_file():
        return kept
    with open(part, "rb") as stream:
        for expected in hashes[: status.chunk_count]:
            data = stream.read(chunk_bytes)
            if hashlib.sha256(data).hexdigest() != expected:
                break
            kept.append(expected)
    return kept


def download_take(
    call: Call,
    job_id: str,
    destination: Path,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    *,
    into_folder: bool = False,
    progress: Progress | None = None,
) -> tuple[Path, TransferStats]:
    """Fetch the take of the done job ``job_id`` into the file ``destination`` (a folder, with
    ``into_folder`` or when it is one: the take's own name in it); returns that file and what
    moved (``stats.resumed_chunks``: the chunks a cut-off download had fetched already)."""
    status = cast(TakeStatusReply, call(TakeStatus(job_id, chunk_bytes)))
    if into_folder or destination.is_dir():
        destination = destination / status.file_name
    destination.parent.mkdir(parents=True, exist_ok=True)
    part, note = partial_paths(destination, status.sha256)
    hashes = _resumable_chunks(part, note, status, chunk_bytes)
    stats = TransferStats(sha256s=[status.sha256], resumed_chunks=len(hashes))
    done_bytes = min(len(hashes) * chunk_bytes, status.size_bytes)
    note.write_text("".join(f"{line}\n" for line in (chunk_bytes, *hashes)), encoding="ascii")
    try:
        with open(part, "r+b" if part.exists() else "wb") as stream, open(note, "a") as noted:
            stream.truncate(done_bytes)
            stream.seek(done_bytes)
            for index in range(len(hashes), status.chunk_count):
                data = _fetch_chunk(call, job_id, index, chunk_bytes, stats)
                stream.write(data)
                stream.flush()
                noted.write(hashlib.sha256(data).hexdigest() + "\n")
                noted.flush()
                stats.chunks += 1
                stats.bytes += len(data)
                done_bytes += len(data)
                if progress is not None:
                    progress(done_bytes, status.size_bytes)
        _check_whole(part, status, job_id)
        os.replace(part, destination)
        note.unlink(missing_ok=True)
    except XdubError as error:
        if not _keeps_partial(error):
            _remove(part, note)
        raise
    except BaseException:
        _remove(part, note)
        raise
    return destination, stats


def _keeps_partial(error: XdubError) -> bool:
    if isinstance(error, DownloadCancelled):
        return error.keep_partial
    return error.code in RESUMABLE_CODES


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _check_whole(part: Path, status: TakeStatusReply, job_id: str) -> None:
    digest = hashlib.sha256()
    with open(part, "rb") as stream:
        for block in iter(lambda: stream.read(2**20), b""):
            digest.update(block)
    size_bytes = part.stat().st_size
    if digest.hexdigest() != status.sha256 or size_bytes != status.size_bytes:
        raise ProtocolError(
            f"the take of job {job_id} arrived as {size_bytes} bytes with sha256 "
            f"{digest.hexdigest()}, not {status.size_bytes} bytes with {status.sha256}",
            code=ErrorCode.UPLOAD_CORRUPT.value,
            hint="fetch it again (the take may have been replaced meanwhile)",
        )


def _fetch_chunk(
    call: Call, job_id: str, index: int, chunk_bytes: int, stats: TransferStats
) -> bytes:
    for _ in range(CHUNK_ATTEMPTS):
        reply = cast(TakeChunkReply, call(TakeChunk(job_id, index, chunk_bytes)))
        data = base64.b64decode(reply.data)
        if hashlib.sha256(data).hexdigest() == reply.chunk_sha256:
            return data
        stats.resent += 1
    raise ProtocolError(
        f"chunk {index} of the take of job {job_id} arrived damaged {CHUNK_ATTEMPTS} times",
        code=ErrorCode.CHUNK_CORRUPT.value,
        hint="check the network between the two machines, then fetch the take again",
    )
