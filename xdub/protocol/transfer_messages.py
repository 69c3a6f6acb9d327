"""The media transfer messages of protocol 1.4: uploads to, and takes from, a remote daemon.

Stdlib-only and Python 3.10-compatible: hosts' Pythons get a copy of this module. A file
travels in chunks of ``chunk_bytes`` (the last one shorter), each carried base64-encoded with
its sha256; the file is named by the sha256 of its whole content, so the same content is never
sent twice and an interrupted upload resumes from the chunks the daemon already holds
(docs/protocol.md, "Media transfer").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from xdub.protocol.records import check_job_id
from xdub.protocol.schema import Reply, Request, require

MIN_CHUNK_BYTES = 64 * 1024
MAX_CHUNK_BYTES = 8 * 2**20
"""Base64 makes an 8 MiB chunk 10.7 MiB, under the 16 MiB frame limit of ``signing.Limits``."""
DEFAULT_CHUNK_BYTES = 4 * 2**20
_SHA256 = re.compile(r"[0-9a-f]{64}")


def check_sha256(digest: str, what: str = "sha256") -> None:
    """A sha256 is 64 lowercase hex characters."""
    require(bool(_SHA256.fullmatch(digest)), f"{what} {digest!r} is not 64 lowercase hex digits")


def chunk_count(size_bytes: int, chunk_bytes: int) -> int:
    """How many chunks of ``chunk_bytes`` hold ``size_bytes`` (one for an empty file)."""
    return max(1, -(-size_bytes // chunk_bytes))


def _check_chunk_bytes(chunk_bytes: int) -> None:
    require(
        MIN_CHUNK_BYTES <= chunk_bytes <= MAX_CHUNK_BYTES,
        f"chunk_bytes {chunk_bytes} not in {MIN_CHUNK_BYTES}..{MAX_CHUNK_BYTES}",
    )


@dataclass(frozen=True)
class UploadStatus(Request):
    """Since 1.4: start or resume the upload of the file whose content has ``sha256``."""

    MSG_TYPE = "upload_status"
    sha256: str
    size_bytes: int
    chunk_bytes: int = DEFAULT_CHUNK_BYTES

    def _validate(self) -> None:
        check_sha256(self.sha256)
        require(self.size_bytes > 0, f"size_bytes {self.size_bytes} is not positive")
        _check_chunk_bytes(self.chunk_bytes)


@dataclass(frozen=True)
class UploadStatusReply(Reply):
    """``complete``: the daemon has the whole file (send nothing); else ``chunks_present``
    lists the chunk indices it holds, out of ``chunk_count``."""

    MSG_TYPE = "upload_status_reply"
    sha256: str
    complete: bool
    chunk_count: int
    chunks_present: tuple[int, ...] = ()

    def _validate(self) -> None:
        check_sha256(self.sha256)


@dataclass(frozen=True)
class UploadChunk(Request):
    """Since 1.4: chunk ``index`` of the upload ``sha256``: ``data`` (base64) and its sha256."""

    MSG_TYPE = "upload_chunk"
    sha256: str
    index: int
    data: str
    chunk_sha256: str

    def _validate(self) -> None:
        check_sha256(self.sha256)
        check_sha256(self.chunk_sha256, "chunk_sha256")
        require(self.index >= 0, f"index {self.index} is negative")


@dataclass(frozen=True)
class UploadChunkReply(Reply):
    """``complete``: that was the last missing chunk and the whole file checked out."""

    MSG_TYPE = "upload_chunk_reply"
    sha256: str
    index: int
    complete: bool


@dataclass(frozen=True)
class TakeStatus(Request):
    """Since 1.4: the size and sha256 of a done job's take, to download it in chunks."""

    MSG_TYPE = "take_status"
    job_id: str
    chunk_bytes: int = DEFAULT_CHUNK_BYTES

    def _validate(self) -> None:
        check_job_id(self.job_id)
        _check_chunk_bytes(self.chunk_bytes)


@dataclass(frozen=True)
class TakeStatusReply(Reply):
    MSG_TYPE = "take_status_reply"
    job_id: str
    file_name: str
    size_bytes: int
    sha256: str
    chunk_count: int


@dataclass(frozen=True)
class TakeChunk(Request):
    """Since 1.4: chunk ``index`` (of ``chunk_bytes``) of a done job's take."""

    MSG_TYPE = "take_chunk"
    job_id: str
    index: int
    chunk_bytes: int = DEFAULT_CHUNK_BYTES

    def _validate(self) -> None:
        check_job_id(self.job_id)
        require(self.index >= 0, f"index {self.index} is negative")
        _check_chunk_bytes(self.chunk_bytes)


@dataclass(frozen=True)
class TakeChunkReply(Reply):
    MSG_TYPE = "take_chunk_reply"
    job_id: str
    index: int
    data: str
    chunk_sha256: str


TRANSFER_MESSAGES = (
    UploadStatus,
    UploadStatusReply,
    UploadChunk,
    UploadChunkReply,
    TakeStatus,
    TakeStatusReply,
    TakeChunk,
    TakeChunkReply,
)
