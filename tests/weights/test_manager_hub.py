"""HubSource against a local stand-in for the Hugging Face Hub on 127.0.0.1.

The server answers the two endpoints huggingface_hub and HubSource call: the tree API
(``/api/models/{repo}/tree/{revision}/checkpoints?recursive=True``, paginated with a ``Link``
header as the Hub does) and ``/{repo}/resolve/{revision}/{path}``, which redirects to a file
route that honours ``Range`` like the Hub's CDN. The real huggingface_hub client and the real
HTTP stack run; only the far end is local. Nothing leaves the machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from xdub.errors import JobCancelled, ModelError
from xdub.weights.folder import ModelFolder
from xdub.weights.manager import ModelManager
from xdub.weights.sources import PARTIAL_SUFFIX, HubSource, LocalSource, file_sha256
from xdub.weights.tiny import make_tiny_folder
from xdub.weights.transfer import DownloadProgress

REPO_ID = "KlingTeam/X-Dub"
LFS_SUFFIXES = (".safetensors", ".pt", ".pth")
PAGE_SIZE = 4  # small pages, so that listing follows the Link header


class FakeHub(ThreadingHTTPServer):
    """Serves ``root`` (holding ``checkpoints/``) as the repo ``REPO_ID`` at revision main."""

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), HubHandler)
        self.root = root
        self.honours_range = True
        self.ranges: list[tuple[str, str | None]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def tree(self) -> list[dict[str, object]]:
        entries: list[dict[str, object]] = []
        for item in sorted((self.root / "checkpoints").rglob("*")):
            if not item.is_file():
                continue
            data = item.read_bytes()
            blob = hashlib.sha1(f"blob {len(data)}\0".encode() + data, usedforsecurity=False)
            entry: dict[str, object] = {
                "type": "file",
                "oid": blob.hexdigest(),
                "size": len(data),
                "path": item.relative_to(self.root).as_posix(),
            }
            if item.suffix in LFS_SUFFIXES:
                entry["lfs"] = {"oid": file_sha256(item), "size": len(data), "pointerSize": 134}
            entries.append(entry)
        entries.append({"type": "directory", "oid": "0" * 40, "size": 0, "path": "checkpoints/x"})
        return entries


class HubHandler(BaseHTTPRequestHandler):
    server: FakeHub

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        tree_prefix = f"/api/models/{REPO_ID}/tree/main/checkpoints"
        resolve_prefix = f"/{REPO_ID}/resolve/main/"
        if url.path == tree_prefix:
            self._tree(int(parse_qs(url.query).get("cursor", ["0"])[0]))
        elif url.path.startswith(resolve_prefix):
            self.send_response(302)
            self.send_header("Location", "/cdn/" + url.path.removeprefix(resolve_prefix))
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif url.path.startswith("/cdn/"):
            self._file(unquote(url.path.removeprefix("/cdn/")))
        else:
            self._send(404, b'{"error": "Repository not found"}', "application/json")

    def _tree(self, cursor: int) -> None:
        entries = self.server.tree()
        body = json.dumps(entries[cursor : cursor + PAGE_SIZE]).encode()
        self.send_response(200)
        if cursor + PAGE_SIZE < len(entries):
            next_url = f"{self.server.url}{urlsplit(self.path).path}?cursor={cursor + PAGE_SIZE}"
            self.send_header("Link", f'<{next_url}>; rel="next"')
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _file(self, path: str) -> None:
        data = (self.server.root / path).read_bytes()
        requested = self.headers.get("Range")
        self.server.ranges.append((path, requested))
        if requested and self.server.honours_range:
            start = int(requested.removeprefix("bytes=").split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            data = data[start:]
        else:
            self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repo")
    make_tiny_folder(root / "checkpoints", seed=4)
    return root


@pytest.fixture
def hub(repo: Path) -> Iterator[FakeHub]:
    server = FakeHub(repo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_listing_has_sizes_lfs_sha256_and_git_blob_ids(hub: FakeHub, repo: Path) -> None:
    files = HubSource(endpoint=hub.url).list_files()

    local = LocalSource(repo).list_files()
    assert [(f.path, f.size_bytes) for f in files] == [(f.path, f.size_bytes) for f in local]
    for file in files:
        assert file.digest is not None
        data = (repo / "checkpoints" / file.path).read_bytes()
        hasher = file.digest.hasher(file.size_bytes)
        hasher.update(data)
        assert hasher.hexdigest() == file.digest.hexdigest, file.path
        is_lfs = file.path.endswith(LFS_SUFFIXES)
        assert file.digest.algorithm == ("sha256" if is_lfs else "git-sha1")


@pytest.mark.parametrize("honours_range", [True, False], ids=["range", "server-ignores-range"])
def test_cancelled_hub_download_resumes_with_a_range_request(
    hub: FakeHub, repo: Path, tmp_path: Path, honours_range: bool
) -> None:
    hub.honours_range = honours_range
    source = HubSource(endpoint=hub.url, chunk_bytes=1 << 15)
    models = ModelManager(tmp_path, source, progress_interval_s=0)
    cancel = threading.Event()

    def cancel_inside_the_dit(event: DownloadProgress) -> None:
        if event.component == "dit" and event.file_bytes_done > 0:
            cancel.set()

    with pytest.raises(JobCancelled):
        models.download(cancel_inside_the_dit, cancel)
    partial = tmp_path / ("X-Dub_model.safetensors" + PARTIAL_SUFFIX)
    kept_bytes = partial.stat().st_size
    assert 0 < kept_bytes < (repo / "checkpoints" / "X-Dub_model.safetensors").stat().st_size

    plan = models.plan()
    result = models.download()

    assert ("checkpoints/X-Dub_model.safetensors", f"bytes={kept_bytes}-") in hub.ranges
    assert result.bytes_fetched == plan.bytes_to_fetch == plan.bytes_total - kept_bytes
    assert "X-Dub_model.safetensors" in result.files_fetched
    for path in result.files_fetched:
        assert (tmp_path / path).read_bytes() == (repo / "checkpoints" / path).read_bytes(), path
    assert models.verify() == []


def test_an_unknown_repo_is_a_model_source_error(hub: FakeHub) -> None:
    with pytest.raises(ModelError) as caught:
        HubSource("nobody/nothing", endpoint=hub.url).list_files()
    assert caught.value.code == "model_source"
    assert "hf://nobody/nothing" in caught.value.message


def test_cli_downloads_from_the_hub_named_by_hf_endpoint(hub: FakeHub, tmp_path: Path) -> None:
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_TELEMETRY": "1"}
    xdub = Path(sys.executable).with_name("xdub")
    models = tmp_path / "models"

    done = subprocess.run(
        [str(xdub), "models", "download", str(models), "--source", "hub"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )

    assert done.returncode == 0, done.stderr
    assert "from hf://KlingTeam/X-Dub" in done.stdout
    assert ModelFolder(models).verify() == []
