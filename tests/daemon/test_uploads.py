"""``UploadStore``: content-addressed uploads, checked chunk by chunk, resumable, bounded and
retained (the daemon's side of media transfer, without sockets)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from xdub.errors import XdubError
from xdub.protocol.transfer import UPLOAD_SCHEME, chunk_payload
from xdub.protocol.transfer_messages import (
    MAX_CHUNK_BYTES,
    MIN_CHUNK_BYTES,
    UploadChunk,
    UploadStatus,
)
from xdub_daemon.config import Retention
from xdub_daemon.uploads import UploadStore

CHUNK = MIN_CHUNK_BYTES
CONTENT = os.urandom(3 * CHUNK + 123)
SHA = hashlib.sha256(CONTENT).hexdigest()


def _store(tmp_path: Path, max_upload_bytes: int = 2**30) -> UploadStore:
    return UploadStore(tmp_path / "uploads", max_upload_bytes=max_upload_bytes)


def _chunk(index: int, content: bytes = CONTENT, sha256: str = SHA) -> UploadChunk:
    text, chunk_sha = chunk_payload(content[index * CHUNK : (index + 1) * CHUNK])
    return UploadChunk(sha256, index, text, chunk_sha)


def _code(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(XdubError) as caught:
        call()
    assert caught.value.hint, caught.value
    return caught.value.code


def test_chunks_in_any_order_make_the_file_named_by_its_hash(tmp_path) -> None:
    store = _store(tmp_path)
    status = store.status(UploadStatus(SHA, len(CONTENT), CHUNK))
    assert (status.complete, status.chunk_count, status.chunks_present) == (False, 4, ())
    assert [store.put_chunk(_chunk(index)).complete for index in (2, 0, 3, 1)] == [
        False,
        False,
        False,
        True,
    ]
    assert store.complete_path(SHA).read_bytes() == CONTENT
    assert not list(store.partial_dir.iterdir())
    again = store.status(UploadStatus(SHA, len(CONTENT), CHUNK))
    assert again.complete  # the same content is not asked for again


def test_a_damaged_or_short_chunk_is_refused_and_not_written(tmp_path) -> None:
    store = _store(tmp_path)
    store.status(UploadStatus(SHA, len(CONTENT), CHUNK))
    good = _chunk(1)
    flipped = chunk_payload(b"\0" + CONTENT[CHUNK + 1 : 2 * CHUNK])[0]
    assert _code(lambda: store.put_chunk(UploadChunk(SHA, 1, flipped, good.chunk_sha256))) == (
        "chunk_corrupt"
    )
    short = chunk_payload(CONTENT[CHUNK : 2 * CHUNK - 1])
    assert _code(lambda: store.put_chunk(UploadChunk(SHA, 1, *short))) == "chunk_corrupt"
    assert _code(lambda: store.put_chunk(UploadChunk(SHA, 1, "not base64!", SHA))) == (
        "chunk_corrupt"
    )
    assert store.status(UploadStatus(SHA, len(CONTENT), CHUNK)).chunks_present == ()


def test_an_upload_resumes_in_a_new_daemon_from_the_chunks_it_has(tmp_path) -> None:
    first = _store(tmp_path)
    first.status(UploadStatus(SHA, len(CONTENT), CHUNK))
    first.put_chunk(_chunk(0))
    first.put_chunk(_chunk(2))
    restarted = _store(tmp_path)
    status = restarted.status(UploadStatus(SHA, len(CONTENT), CHUNK))
    assert status.chunks_present == (0, 2)
    restarted.put_chunk(_chunk(1))
    assert restarted.put_chunk(_chunk(3)).complete  # hashed from the disk: not in order
    assert restarted.complete_path(SHA).read_bytes() == CONTENT


def test_chunks_that_do_not_make_the_announced_content_are_refused(tmp_path) -> None:
    store = _store(tmp_path)
    other = os.urandom(len(CONTENT))
    store.status(UploadStatus(SHA, len(other), CHUNK))
    for index in range(3):
        store.put_chunk(_chunk(index, other))
    assert _code(lambda: store.put_chunk(_chunk(3, other))) == "upload_corrupt"
    assert not store.complete_path(SHA).exists() and not list(store.partial_dir.iterdir())


def test_a_chunk_the_disk_lost_is_asked_for_again(tmp_path) -> None:
    store = _store(tmp_path)
    store.status(UploadStatus(SHA, len(CONTENT), CHUNK))
    for index in range(3):
        store.put_chunk(_chunk(index))
    with open(store.partial_dir / f"{SHA}.part", "r+b") as part:  # as a crash leaves it
        part.seek(CHUNK)
        part.write(b"\0" * 16)
    assert not store.put_chunk(_chunk(3)).complete
    assert store.status(UploadStatus(SHA, len(CONTENT), CHUNK)).chunks_present == (0, 2, 3)
    assert store.put_chunk(_chunk(1)).complete
    assert store.complete_path(SHA).read_bytes() == CONTENT


def test_limits_size_disk_space_and_unknown_uploads(tmp_path) -> None:
    small = _store(tmp_path, max_upload_bytes=len(CONTENT) - 1)
    assert _code(lambda: small.status(UploadStatus(SHA, len(CONTENT), CHUNK))) == (
        "upload_too_large"
    )
    store = _store(tmp_path, max_upload_bytes=2**62)
    free = shutil.disk_usage(tmp_path).free
    assert _code(lambda: store.status(UploadStatus(SHA, free + 2**30, CHUNK))) == "disk_full"
    assert not list(store.partial_dir.iterdir())  # nothing reserved, nothing left
    assert _code(lambda: store.put_chunk(_chunk(0))) == "unknown_upload"
    with pytest.raises(XdubError, match="chunk_bytes"):
        UploadStatus(SHA, 10, MAX_CHUNK_BYTES + 1)
    with pytest.raises(XdubError, match="sha256"):
        UploadStatus("../../etc/passwd", 10, CHUNK)


def test_a_job_names_uploads_by_hash_and_gets_the_daemons_files(tmp_path) -> None:
    store = _store(tmp_path)
    store.status(UploadStatus(SHA, len(CONTENT), CHUNK))
    for index in range(4):
        store.put_chunk(_chunk(index))
    otio = json.dumps({"target_url": UPLOAD_SCHEME + SHA})
    resolved = store.resolve(otio)
    assert json.loads(resolved)["target_url"] == str(store.complete_path(SHA))
    assert store.used_by([resolved]) == {SHA}
    missing = json.dumps({"target_url": UPLOAD_SCHEME + "1" * 64})
    assert _code(lambda: store.resolve(missing)) == "unknown_upload"
    assert store.resolve('{"target_url": "/a/b.mov"}') == '{"target_url": "/a/b.mov"}'


def test_retention_removes_unused_and_abandoned_uploads(tmp_path) -> None:
    store = _store(tmp_path)
    kept, unused = os.urandom(CHUNK), os.urandom(CHUNK)
    for content in (kept, unused):
        sha256 = hashlib.sha256(content).hexdigest()
        store.status(UploadStatus(sha256, len(content), CHUNK))
        store.put_chunk(_chunk(0, content, sha256))
    store.status(UploadStatus(SHA, len(CONTENT), CHUNK))  # abandoned after its first chunk
    store.put_chunk(_chunk(0))
    retention = Retention(upload_max_age_days=7, partial_upload_max_age_h=24)
    in_use = {hashlib.sha256(kept).hexdigest()}
    assert store.prune(retention, in_use, clock=time.time() + 3600) == []
    removed = store.prune(retention, in_use, clock=time.time() + 8 * 86400)
    assert sorted(removed) == sorted(
        [hashlib.sha256(unused).hexdigest(), f"{SHA}.part", f"{SHA}.json"]
    )
    assert store.complete_path(hashlib.sha256(kept).hexdigest()).is_file()
