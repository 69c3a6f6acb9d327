"""``UploadStore``: media remote clients send, kept content-addressed in ``<data dir>/uploads``.

A file is named by the sha256 of its content: ``uploads/<sha256>`` once complete,
``uploads/partial/<sha256>.part`` (its full size reserved on disk at the start) and a manifest
``<sha256>.json`` (the size, the chunk size and the sha256 of every chunk received) while it
arrives. The server names every file; nothing a message carries becomes a path. Each chunk is
checked against its own hash before it is written (``chunk_corrupt``: the client sends it
again) and the whole file against its name before it is presented (``upload_corrupt``).
An upload survives a dropped connection and a daemon restart: ``status`` lists the chunks
present and the client sends the others. A submitted job names an upload as
``xdub-upload:<sha256>`` in its media references; ``resolve`` turns those into the files.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from xdub.errors import ProtocolError
from xdub.protocol.connection import DIR_MODE, FILE_MODE
from xdub.protocol.errors import ErrorCode
from xdub.protocol.precheck import reserve_file
from xdub.protocol.transfer import UPLOAD_SCHEME
from xdub.protocol.transfer_messages import (
    UploadChunk,
    UploadChunkReply,
    UploadStatus,
    UploadStatusReply,
    chunk_count,
)
from xdub_daemon.config import Retention

log = logging.getLogger(__name__)

HASH_BLOCK_BYTES = 8 * 2**20
_UPLOAD_REF = re.compile(re.escape(UPLOAD_SCHEME) + r"([0-9a-f]{64})")


def _error(code: ErrorCode, message: str, hint: str) -> ProtocolError:
    return ProtocolError(message, code=code.value, hint=hint)


def file_sha256(path: Path, start: int = 0, size_bytes: int | None = None) -> str:
    """The sha256 of ``size_bytes`` of ``path`` from ``start`` (None: to the end)."""
    digest = hashlib.sha256()
    left = size_bytes
    with open(path, "rb") as stream:
        stream.seek(start)
        while left is None or left > 0:
            block = stream.read(HASH_BLOCK_BYTES if left is None else min(left, HASH_BLOCK_BYTES))
            if not block:
                break
            digest.update(block)
            if left is not None:
                left -= len(block)
    return digest.hexdigest()


class UploadStore:
    """The uploads under ``root``; files over ``max_upload_bytes`` are refused. One thread."""

    def __init__(self, root: Path, *, max_upload_bytes: int) -> None:
        self.root = root
        self.partial_dir = root / "partial"
        self.max_upload_bytes = max_upload_bytes
        self.partial_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        os.chmod(root, DIR_MODE)

    # -- names -------------------------------------------------------------------------------

    def complete_path(self, sha256: str) -> Path:
        return self.root / sha256

    def _part(self, sha256: str) -> Path:
        return self.partial_dir / f"{sha256}.part"

    def _manifest_path(self, sha256: str) -> Path:
        return self.partial_dir / f"{sha256}.json"

    def _read_manifest(self, sha256: str) -> dict[str, Any] | None:
        try:
            manifest = json.loads(self._manifest_path(sha256).read_text())
        except FileNotFoundError:
            return None
        except ValueError:  # a manifest cut short by a crash: start that upload again
            self._discard(sha256)
            return None
        return manifest if isinstance(manifest, dict) else None

    def _write_manifest(self, sha256: str, manifest: dict[str, Any]) -> None:
        path = self._manifest_path(sha256)
        temp = path.with_suffix(".json.tmp")
        temp.write_text(json.dumps(manifest))
        os.replace(temp, path)

    def _discard(self, sha256: str) -> None:
        for path in (self._part(sha256), self._manifest_path(sha256)):
            path.unlink(missing_ok=True)

    # -- requests ----------------------------------------------------------------------------

    def status(self, request: UploadStatus) -> UploadStatusReply:
        """Start or resume an upload: which chunks the daemon holds (all: ``complete``)."""
        sha256, count = request.sha256, chunk_count(request.size_bytes, request.chunk_bytes)
        complete = self.complete_path(sha256)
        if complete.is_file():
            os.utime(complete)  # used again: retention counts from now
            return UploadStatusReply(sha256, True, count, tuple(range(count)))
        if request.size_bytes > self.max_upload_bytes:
            raise _error(
                ErrorCode.UPLOAD_TOO_LARGE,
                f"the file is {request.size_bytes} bytes; this daemon takes uploads of at "
                f"most {self.max_upload_bytes} bytes",
                "trim the clip to the part you dub, or run the daemon on this machine",
            )
        manifest = self._read_manifest(sha256)
        wanted = (request.size_bytes, request.chunk_bytes)
        if manifest is not None and (manifest["size_bytes"], manifest["chunk_bytes"]) != wanted:
            self._discard(sha256)  # another chunking of the same content: start again
            manifest = None
        if manifest is None:
            manifest = self._begin(sha256, request.size_bytes, request.chunk_bytes)
        os.utime(self._manifest_path(sha256))
        present = tuple(sorted(int(index) for index in manifest["chunks"]))
        return UploadStatusReply(sha256, False, count, present)

    def _begin(self, sha256: str, size_bytes: int, chunk_bytes: int) -> dict[str, Any]:
        part = self._part(sha256)
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            reserve_file(fd, part, size_bytes, "the upload")
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        finally:
            os.close(fd)
        manifest = {"size_bytes": size_bytes, "chunk_bytes": chunk_bytes, "chunks": {}}
        self._write_manifest(sha256, manifest)
        return manifest

    def put_chunk(self, request: UploadChunk) -> UploadChunkReply:
        """Check and write one chunk; the last one missing completes the upload."""
        sha256, index = request.sha256, request.index
        if self.complete_path(sha256).is_file():
            return UploadChunkReply(sha256, index, True)  # a resend after the last reply was lost
        manifest = self._read_manifest(sha256)
        if manifest is None:
            raise _error(
                ErrorCode.UNKNOWN_UPLOAD,
                f"no upload {sha256} is in progress",
                "ask upload_status first (an upload unused for a day is removed)",
            )
        size_bytes, chunk_bytes = manifest["size_bytes"], manifest["chunk_bytes"]
        count = chunk_count(size_bytes, chunk_bytes)
        if index >= count:
            raise ProtocolError(
                f"chunk {index} is past the upload's {count} chunks",
                code=ErrorCode.BAD_CONTENT.value,
            )
        data = self._checked_data(request, min(chunk_bytes, size_bytes - index * chunk_bytes))
        fd = os.open(self._part(sha256), os.O_WRONLY)
        try:
            os.pwrite(fd, data, index * chunk_bytes)
        finally:
            os.close(fd)
        manifest["chunks"][str(index)] = request.chunk_sha256
        if len(manifest["chunks"]) < count:
            self._write_manifest(sha256, manifest)
            return UploadChunkReply(sha256, index, False)
        return UploadChunkReply(sha256, index, self._finish(sha256, manifest))

    def _checked_data(self, request: UploadChunk, expected_bytes: int) -> bytes:
        try:  # not validate=True: it scans the text with a regex (75 ms for 4 MiB); a stray
            data = binascii.a2b_base64(request.data)  # character fails the hash check below
        except (binascii.Error, ValueError):
            data = b""
        actual = hashlib.sha256(data).hexdigest()
        if len(data) != expected_bytes or actual != request.chunk_sha256:
            raise _error(
                ErrorCode.CHUNK_CORRUPT,
                f"chunk {request.index} of upload {request.sha256} arrived damaged "
                f"({len(data)} of {expected_bytes} bytes, sha256 {actual[:12]}..., "
                f"announced {request.chunk_sha256[:12]}...); it was not written",
                "send the chunk again (the client does this by itself)",
            )
        return data

    def _finish(self, sha256: str, manifest: dict[str, Any]) -> bool:
        """Check the whole file, as the disk holds it, against its name and present it; False
        when chunks were bad on disk (dropped from the manifest, so ``status`` asks for them
        again)."""
        part = self._part(sha256)
        actual = file_sha256(part)
        if actual == sha256:
            os.replace(part, self.complete_path(sha256))
            self._manifest_path(sha256).unlink(missing_ok=True)
            log.info("upload %s complete (%d bytes)", sha256[:12], manifest["size_bytes"])
            return True
        chunk_bytes = manifest["chunk_bytes"]
        bad = [
            index
            for index, chunk_sha in manifest["chunks"].items()
            if file_sha256(part, int(index) * chunk_bytes, chunk_bytes) != chunk_sha
        ]
        if bad:  # chunks the disk lost (a crash before they were flushed): ask for them again
            for index in bad:
                del manifest["chunks"][index]
            self._write_manifest(sha256, manifest)
            return False
        self._discard(sha256)
        raise _error(
            ErrorCode.UPLOAD_CORRUPT,
            f"the chunks of upload {sha256} make a file whose sha256 is {actual}",
            "the file changed while it was sent: upload it again",
        )

    # -- jobs and retention ------------------------------------------------------------------

    def resolve(self, otio: str) -> str:
        """``otio`` with every ``xdub-upload:<sha256>`` replaced by that upload's file;
        ``unknown_upload`` for one the daemon does not hold complete."""

        def file_of(match: re.Match[str]) -> str:
            path = self.complete_path(match[1])
            if not path.is_file():
                raise _error(
                    ErrorCode.UNKNOWN_UPLOAD,
                    f"the job names upload {match[1]}, which this daemon does not hold",
                    "upload the media first (the client does this for a remote daemon)",
                )
            os.utime(path)
            return json.dumps(str(path))[1:-1]  # inside a JSON string

        return _UPLOAD_REF.sub(file_of, otio) if UPLOAD_SCHEME in otio else otio

    def used_by(self, otios: Iterable[str]) -> set[str]:
        """The uploads (sha256) that the jobs ``otios`` (as resolved) read."""
        prefix = re.escape(json.dumps(str(self.root) + os.sep)[1:-1])
        pattern = re.compile(prefix + r"([0-9a-f]{64})")
        return {match for otio in otios for match in pattern.findall(otio)}

    def prune(
        self, retention: Retention, in_use: set[str], *, clock: float | None = None
    ) -> list[str]:
        """Remove complete uploads unused for ``upload_max_age_days`` (unless ``in_use``) and
        partial ones untouched for ``partial_upload_max_age_h``; returns what went."""
        now = time.time() if clock is None else clock
        removed = []
        complete_cutoff = now - retention.upload_max_age_days * 86400
        for path in self.root.iterdir():
            if path.is_file() and path.name not in in_use and _mtime(path) < complete_cutoff:
                path.unlink(missing_ok=True)
                removed.append(path.name)
        partial_cutoff = now - retention.partial_upload_max_age_h * 3600
        for path in self.partial_dir.iterdir():
            manifest = path.with_suffix(".json")
            if _mtime(manifest if manifest.exists() else path) < partial_cutoff:
                path.unlink(missing_ok=True)
                removed.append(path.name)
        if removed:
            log.info("retention removed %d upload files", len(removed))
        return removed


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")
