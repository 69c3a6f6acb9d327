"""Where model files come from: the Hugging Face repo, or a local folder standing in for it.

A source lists the files of a model folder, with paths relative to the folder (that is, to
``checkpoints/`` of the repo ``KlingTeam/X-Dub``), their sizes and, when it knows them, their
digests; and it streams one file from a byte offset, which is what makes downloads resumable.

    HubSource     huggingface_hub's tree API for sizes and hashes, HTTP range GETs for bytes
    LocalSource   a folder laid out like the repo (or like a model folder), optionally with a
                  ``sha256sums.txt`` manifest; stands in for the hub in tests and on offline sites
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from xdub.errors import ModelError

log = logging.getLogger(__name__)

REPO_ID = "KlingTeam/X-Dub"
REPO_SUBFOLDER = "checkpoints"
MANIFEST_FILE = "sha256sums.txt"
PARTIAL_SUFFIX = ".incomplete"
CHUNK_BYTES = 1 << 20
_SKIPPED_NAMES = frozenset({MANIFEST_FILE, ".gitattributes"})


@dataclass(frozen=True)
class Digest:
    """A content hash: ``sha256`` (LFS files, manifests) or ``git-sha1`` (a git blob id)."""

    algorithm: str
    hexdigest: str

    def hasher(self, size_bytes: int) -> Any:
        """A fresh ``hashlib`` object that ends at ``hexdigest`` after the file's bytes."""
        if self.algorithm == "sha256":
            return hashlib.sha256()
        if self.algorithm == "git-sha1":
            hasher = hashlib.sha1(usedforsecurity=False)
            hasher.update(f"blob {size_bytes}\0".encode())
            return hasher
        raise ValueError(f"unknown digest algorithm {self.algorithm!r}")


@dataclass(frozen=True)
class RemoteFile:
    """One file of a source. ``path``: POSIX, relative to the model folder."""

    path: str
    size_bytes: int
    digest: Digest | None = None


class Source(Protocol):
    """What the model manager needs from a place that holds the bundle."""

    label: str

    def list_files(self) -> list[RemoteFile]:
        """Every file of the bundle, sorted by path."""
        ...

    def read(self, file: RemoteFile, start_byte: int) -> Generator[bytes, None, None]:
        """The bytes of ``file`` from ``start_byte`` to its end, in chunks."""
        ...


def is_bundle_file(path: str) -> bool:
    """False for files a source may hold that are not part of a model folder."""
    name = path.rsplit("/", 1)[-1]
    return name not in _SKIPPED_NAMES and not name.endswith(PARTIAL_SUFFIX)


# -- a local folder --------------------------------------------------------------------------


class LocalSource:
    """A folder standing in for the hub: ``root/checkpoints/...`` like the repo, or ``root``
    itself laid out like a model folder. A ``sha256sums.txt`` beside the files (``sha256sum``
    format, paths relative to that folder) gives every listed file a digest."""

    def __init__(self, root: Path, *, chunk_bytes: int = CHUNK_BYTES) -> None:
        root = Path(root)
        nested = root / REPO_SUBFOLDER
        self.root = nested if nested.is_dir() else root
        self.chunk_bytes = chunk_bytes
        self.label = str(root)

    def list_files(self) -> list[RemoteFile]:
        if not self.root.is_dir():
            raise ModelError(
                f"model source {self.root} is not a folder",
                code="model_source",
                hint="pass a folder laid out like the hub repo (checkpoints/...)",
            )
        digests = read_manifest(self.root / MANIFEST_FILE)
        files = []
        for item in sorted(self.root.rglob("*")):
            path = item.relative_to(self.root).as_posix()
            if item.is_file() and is_bundle_file(path):
                digest = digests.get(path)
                files.append(RemoteFile(path, item.stat().st_size, digest))
        return files

    def read(self, file: RemoteFile, start_byte: int) -> Generator[bytes, None, None]:
        with open(self.root / file.path, "rb") as stream:
            stream.seek(start_byte)
            while chunk := stream.read(self.chunk_bytes):
                yield chunk


def read_manifest(path: Path) -> dict[str, Digest]:
    """``sha256sum`` output (``HEX  PATH`` or ``HEX *PATH`` lines) as path -> digest; {} if
    the file does not exist."""
    if not path.is_file():
        return {}
    digests = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        hexdigest, _, name = line.partition(" ")
        name = name.lstrip(" *")
        if len(hexdigest) != 64 or not name:
            raise ModelError(
                f"{path}:{number}: not a sha256sum line: {line!r}", code="model_source"
            )
        digests[name] = Digest("sha256", hexdigest.lower())
    return digests


def write_manifest(root: Path) -> Path:
    """Write ``root/sha256sums.txt`` for every bundle file under ``root`` (a mirror's manifest)."""
    lines = []
    for item in sorted(Path(root).rglob("*")):
        path = item.relative_to(root).as_posix()
        if item.is_file() and is_bundle_file(path):
            lines.append(f"{file_sha256(item)}  {path}\n")
    manifest = Path(root) / MANIFEST_FILE
    manifest.write_text("".join(lines))
    return manifest


def file_sha256(path: Path, chunk_bytes: int = CHUNK_BYTES) -> str:
    """Hex SHA-256 of the file at ``path``."""
    hasher = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(chunk_bytes):
            hasher.update(chunk)
    return hasher.hexdigest()


# -- the Hugging Face repo -------------------------------------------------------------------


class HubSource:
    """``checkpoints/`` of a Hugging Face model repo.

    Listing: ``HfApi.list_repo_tree(recursive=True)`` (size; LFS sha256, else the git blob id).
    Bytes: a GET of the file's ``resolve`` URL (redirects followed, e.g. to the Xet CDN) with a
    ``Range: bytes=N-`` header when resuming. ``endpoint`` defaults to ``$HF_ENDPOINT``; the
    token to huggingface_hub's saved one.
    """

    def __init__(
        self,
        repo_id: str = REPO_ID,
        revision: str | None = None,
        *,
        endpoint: str | None = None,
        token: str | bool | None = None,
        chunk_bytes: int = CHUNK_BYTES,
        timeout_s: float = 60.0,
    ) -> None:
        self.repo_id = repo_id
        self.revision = revision
        self.endpoint = endpoint
        self.token = token
        self.chunk_bytes = chunk_bytes
        self.timeout_s = timeout_s
        self.label = f"hf://{repo_id}" + (f"@{revision}" if revision else "")

    def list_files(self) -> list[RemoteFile]:
        from huggingface_hub import HfApi
        from huggingface_hub.hf_api import RepoFile

        api = HfApi(endpoint=self.endpoint, token=self.token)
        prefix = f"{REPO_SUBFOLDER}/"
        try:
            entries = list(
                api.list_repo_tree(
                    self.repo_id, REPO_SUBFOLDER, recursive=True, revision=self.revision
                )
            )
        except OSError as exc:  # huggingface_hub's HTTP and offline errors are OSErrors
            raise self._error("cannot list", exc) from exc
        files = []
        for entry in entries:
            if not isinstance(entry, RepoFile) or not entry.path.startswith(prefix):
                continue
            path = entry.path.removeprefix(prefix)
            if not is_bundle_file(path):
                continue
            if entry.lfs is not None:
                digest = Digest("sha256", entry.lfs.sha256)
            else:
                digest = Digest("git-sha1", entry.blob_id)
            files.append(RemoteFile(path, entry.size, digest))
        return sorted(files, key=lambda file: file.path)

    def read(self, file: RemoteFile, start_byte: int) -> Generator[bytes, None, None]:
        import httpx2
        from huggingface_hub import hf_hub_url
        from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

        url = hf_hub_url(
            self.repo_id,
            f"{REPO_SUBFOLDER}/{file.path}",
            revision=self.revision,
            endpoint=self.endpoint,
        )
        headers = build_hf_headers(token=self.token)
        if start_byte:
            headers["Range"] = f"bytes={start_byte}-"
        try:
            with get_session().stream(
                "GET", url, headers=headers, follow_redirects=True, timeout=self.timeout_s
            ) as response:
                hf_raise_for_status(response)
                # A server that ignores Range answers 200 with the whole file: skip the prefix.
                skip_bytes = start_byte if response.status_code == 200 else 0
                for chunk in response.iter_bytes(self.chunk_bytes):
                    if skip_bytes:
                        dropped = min(skip_bytes, len(chunk))
                        chunk, skip_bytes = chunk[dropped:], skip_bytes - dropped
                    if chunk:
                        yield chunk
        except (OSError, httpx2.HTTPError) as exc:
            raise self._error(f"cannot download {file.path} from", exc) from exc

    def _error(self, what: str, exc: Exception) -> ModelError:
        return ModelError(
            f"{what} {self.label}: {type(exc).__name__}: {exc}",
            code="model_source",
            hint="check the network (or $HF_ENDPOINT / HF_TOKEN) and run the download again; "
            "finished files and partial ones are kept",
        )
