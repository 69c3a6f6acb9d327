"""Media to and from a remote daemon: chunked, hashed, resumable (docs/protocol.md, "Media
transfer").

Stdlib-only and Python 3.10-compatible: hosts' Pythons get a copy of this module.
``upload_file`` sends a file as chunks of ``chunk_bytes``, each with its sha256, after asking
the daemon which chunks it already holds (none sent when it holds the whole content: the same
sha256); a chunk the daemon finds damaged is sent again. ``upload_job_media`` uploads every
file a job timeline references and names them ``xdub-upload:<sha256>`` instead of their paths.
``download.download_take`` fetches a done job's take the same way.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from xdub.errors import ProtocolError, XdubError
from xdub.protocol.errors import ErrorCode
from xdub.protocol.otio_json import media_reference
from xdub.protocol.schema import Content
from xdub.protocol.transfer_messages import (
    DEFAULT_CHUNK_BYTES,
    UploadChunk,
    UploadChunkReply,
    UploadStatus,
    UploadStatusReply,
)

UPLOAD_SCHEME = "xdub-upload:"
"""A media reference's ``target_url`` naming uploaded content: ``xdub-upload:<sha256>``."""
CHUNK_ATTEMPTS = 3
"""How often one chunk is sent (or fetched) before the transfer gives up."""
UPLOAD_ROUNDS = 3
"""``upload_status`` rounds: chunks the daemon drops at the end are asked for again."""
HASH_BLOCK_BYTES = 8 * 2**20

Call = Callable[[Content], Content]
"""``DaemonClient.call``: one request, its ok reply (an error reply raised)."""


@dataclass
class TransferStats:
    """What a transfer moved: chunks and bytes sent (or fetched), files already there."""

    chunks: int = 0
    bytes: int = 0
    files_skipped: int = 0
    resent: int = 0
    resumed_chunks: int = 0
    """(Downloads) chunks a cut-off download had fetched already, re-hashed, not fetched."""
    sha256s: list[str] = field(default_factory=list)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(HASH_BLOCK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def chunk_payload(data: bytes) -> tuple[str, str]:
    """``(base64 text, sha256)`` of one chunk."""
    return base64.b64encode(data).decode("ascii"), hashlib.sha256(data).hexdigest()


class Uploader:
    """Uploads through ``call``; ``stats`` adds up every file sent. ``payload`` (a test seam
    for damage in transit) turns a chunk's bytes into what is sent."""

    def __init__(self, call: Call, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> None:
        self.call = call
        self.chunk_bytes = chunk_bytes
        self.stats = TransferStats()
        self.payload: Callable[[int, bytes], tuple[str, str]] = lambda index, data: chunk_payload(
            data
        )

    def upload_file(self, path: Path, sha256: str | None = None) -> str:
        """Make the daemon hold ``path``'s content; returns its sha256."""
        sha256 = sha256 or sha256_of(path)
        size_bytes = os.path.getsize(path)
        self.stats.sha256s.append(sha256)
        for round_index in range(UPLOAD_ROUNDS):
            request = UploadStatus(sha256, size_bytes, self.chunk_bytes)
            status = cast(UploadStatusReply, self.call(request))
            if status.complete:
                self.stats.files_skipped += round_index == 0
                return sha256
            present = set(status.chunks_present)
            missing = [index for index in range(status.chunk_count) if index not in present]
            with open(path, "rb") as stream:
                for index in missing:
                    stream.seek(index * self.chunk_bytes)
                    if self._send(sha256, index, stream.read(self.chunk_bytes)):
                        return sha256
        raise ProtocolError(
            f"the daemon did not complete the upload of {path}",
            code=ErrorCode.UPLOAD_CORRUPT.value,
            hint="check the daemon's disk (its log names the upload) and try again",
        )

    def _send(self, sha256: str, index: int, data: bytes) -> bool:
        for attempt in range(CHUNK_ATTEMPTS):
            text, chunk_sha = self.payload(index, data)
            try:
                request = UploadChunk(sha256, index, text, chunk_sha)
                reply = cast(UploadChunkReply, self.call(request))
            except XdubError as error:
                if error.code != ErrorCode.CHUNK_CORRUPT.value or attempt + 1 == CHUNK_ATTEMPTS:
                    raise
                self.stats.resent += 1
                continue
            self.stats.chunks += 1
            self.stats.bytes += len(data)
            return reply.complete
        raise AssertionError("unreachable")


def _references(timeline: Any) -> list[dict[str, Any]]:
    """Every media reference with a ``target_url`` in a decoded job timeline."""
    found: list[dict[str, Any]] = []
    for track in timeline.get("tracks", {}).get("children", []):
        for item in track.get("children", []):
            reference = media_reference(item) if isinstance(item, dict) else {}
            if isinstance(reference.get("target_url"), str):
                found.append(reference)
    return found


def upload_job_media(uploader: Uploader, otio_json: str) -> str:
    """Upload every file ``otio_json`` references; returns the job naming them by hash."""
    timeline = json.loads(otio_json)
    sha_of: dict[str, str] = {}
    for reference in _references(timeline):
        url = reference["target_url"]
        if url.startswith(UPLOAD_SCHEME):
            continue
        path = url[len("file://") :] if url.startswith("file://") else url
        if path not in sha_of:
            sha_of[path] = uploader.upload_file(Path(path))
        reference["target_url"] = UPLOAD_SCHEME + sha_of[path]
    return json.dumps(timeline, allow_nan=False)
