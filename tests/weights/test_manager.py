"""The model manager over a LocalSource: a tiny folder laid out like the hub repo stands in
for ``KlingTeam/X-Dub`` (nothing is downloaded)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from xdub.errors import JobCancelled, ModelError
from xdub.protocol.records import DownloadState, ModelState
from xdub.weights.folder import COMPONENTS, ModelFolder, component_of
from xdub.weights.manager import ModelManager
from xdub.weights.sources import (
    MANIFEST_FILE,
    PARTIAL_SUFFIX,
    LocalSource,
    RemoteFile,
    read_manifest,
    write_manifest,
)
from xdub.weights.tiny import make_tiny_folder
from xdub.weights.transfer import DownloadProgress

DOWNLOADING = ModelState.DOWNLOADING
CHUNK_BYTES = 1 << 15  # small chunks so that a cancel lands inside a file


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``mirror/checkpoints/`` = a tiny model folder with a sha256sums.txt (do not modify)."""
    root = tmp_path_factory.mktemp("mirror")
    make_tiny_folder(root / "checkpoints", seed=1)
    write_manifest(root / "checkpoints")
    return root


def manager(target: Path, root: Path, **kwargs: float) -> ModelManager:
    return ModelManager(
        target, LocalSource(root, chunk_bytes=CHUNK_BYTES), progress_interval_s=0, **kwargs
    )


def assert_same_files(target: Path, mirror: Path, paths: list[str]) -> None:
    for path in paths:
        assert (target / path).read_bytes() == (mirror / "checkpoints" / path).read_bytes(), path


def listed(mirror: Path) -> list[RemoteFile]:
    return LocalSource(mirror).list_files()


def test_download_reports_monotonic_progress_and_reproduces_the_source(
    mirror: Path, tmp_path: Path
) -> None:
    events: list[DownloadProgress] = []
    models = manager(tmp_path / "models", mirror)
    plan = models.plan()

    result = models.download(events.append)

    assert plan.bytes_total == plan.bytes_to_fetch == result.bytes_fetched > 0
    done = [event.bytes_done for event in events]
    assert done == sorted(done)
    assert events[-1].state is DownloadState.DONE
    assert events[-1].bytes_done == events[-1].bytes_total == plan.bytes_total
    for event in events:
        assert 0 <= event.file_bytes_done <= event.file_bytes_total
        assert event.to_event().bytes_total == event.file_bytes_total  # validates the message
    finished = {event.file for event in events if event.state is DownloadState.DONE}
    assert finished == {task.file.path for task in plan.tasks}
    assert {component_of(path) for path in finished} == {
        entry.name for entry in COMPONENTS if entry.is_required
    } | {None}  # xdub-model.json; umt5 is not needed as the source has the text context
    assert_same_files(tmp_path / "models", mirror, sorted(finished))
    assert ModelFolder(tmp_path / "models").verify() == []
    states = {report.name: report.state for report in models.status()}
    assert all(states[entry.name] is ModelState.READY for entry in COMPONENTS if entry.is_required)
    assert models.plan().tasks == ()
    assert not list((tmp_path / "models").rglob(f"*{PARTIAL_SUFFIX}"))


class RecordingSource(LocalSource):
    """The real LocalSource, recording where each read starts."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, chunk_bytes=CHUNK_BYTES)
        self.starts: list[tuple[str, int]] = []

    def read(self, file: RemoteFile, start_byte: int):  # type: ignore[no-untyped-def]
        self.starts.append((file.path, start_byte))
        yield from super().read(file, start_byte)


def test_cancel_mid_file_keeps_the_partial_and_resume_completes_identically(
    mirror: Path, tmp_path: Path
) -> None:
    source = RecordingSource(mirror)
    models = ModelManager(tmp_path, source, progress_interval_s=0)
    paths = [task.file.path for task in models.plan().tasks]
    total = models.plan().bytes_total
    cancel = threading.Event()

    seen_downloading: set[str] = set()

    def cancel_past_half(event: DownloadProgress) -> None:
        states = {r.name: r.state for r in models.status()}
        seen_downloading.update(n for n, state in states.items() if state is DOWNLOADING)
        if event.bytes_done > total // 2 and 0 < event.file_bytes_done < event.file_bytes_total:
            cancel.set()

    with pytest.raises(JobCancelled):
        models.download(cancel_past_half, cancel)

    assert "dit" in seen_downloading  # status() shows the component being fetched
    [partial] = list(tmp_path.rglob(f"*{PARTIAL_SUFFIX}"))
    path = partial.relative_to(tmp_path).as_posix().removesuffix(PARTIAL_SUFFIX)
    original = (mirror / "checkpoints" / path).read_bytes()
    kept = partial.read_bytes()
    assert 0 < len(kept) < len(original)
    assert kept == original[: len(kept)]
    assert not (tmp_path / path).exists()
    report = {r.name: r for r in models.status()}[component_of(path) or ""]
    assert report.state is ModelState.PARTIAL
    assert report.bytes_on_disk >= len(kept)

    plan = models.plan()
    events: list[DownloadProgress] = []
    result = models.download(events.append)

    assert (path, len(kept)) in source.starts  # resumed by seeking, not from 0
    assert result.bytes_fetched == plan.bytes_to_fetch == plan.bytes_total - len(kept)
    first = next(event for event in events if event.file == path)
    assert first.file_bytes_done == len(kept)
    assert events[-1].bytes_done == events[-1].bytes_total == plan.bytes_total
    assert_same_files(tmp_path, mirror, paths)
    assert models.verify() == []


def test_a_file_whose_hash_does_not_match_the_manifest_is_refused(
    mirror: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "mirror"
    shutil.copytree(mirror, copy)
    manifest = copy / "checkpoints" / MANIFEST_FILE
    digests = read_manifest(manifest)
    victim = "Wan2.2_VAE.safetensors"
    lines = [
        f"{'0' * 64 if path == victim else digest.hexdigest}  {path}\n"
        for path, digest in digests.items()
    ]
    manifest.write_text("".join(lines))
    models = manager(tmp_path / "models", copy)

    with pytest.raises(ModelError) as caught:
        models.download(only=["vae"])

    assert caught.value.code == "model_corrupt"
    assert victim in caught.value.message
    assert not (tmp_path / "models" / victim).exists()
    assert not (tmp_path / "models" / (victim + PARTIAL_SUFFIX)).exists()


def flip_bytes(path: Path, offset: int, count: int = 4) -> None:
    data = bytearray(path.read_bytes())
    for index in range(offset, offset + count):
        data[index] ^= 0xFF
    path.write_bytes(bytes(data))


def test_flipped_bytes_are_caught_by_the_hash_and_repaired(mirror: Path, tmp_path: Path) -> None:
    models = manager(tmp_path, mirror)
    models.download()
    dit = tmp_path / "X-Dub_model.safetensors"
    flip_bytes(dit, dit.stat().st_size - 64)  # tensor data: the header still parses

    assert ModelFolder(tmp_path).verify() == []  # structure alone cannot see it
    problems = models.verify()

    assert [problem.file for problem in problems] == ["X-Dub_model.safetensors"]
    assert "sha256" in problems[0].message
    assert {r.name: r.state for r in models.status()}["dit"] is ModelState.CORRUPT
    assert [task.file.path for task in models.plan().tasks] == ["X-Dub_model.safetensors"]
    models.download()
    assert models.verify() == []
    assert_same_files(tmp_path, mirror, ["X-Dub_model.safetensors"])


def test_a_broken_header_is_caught_by_structure_without_a_manifest(
    mirror: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "mirror"
    shutil.copytree(mirror, copy)
    (copy / "checkpoints" / MANIFEST_FILE).unlink()
    models = manager(tmp_path / "models", copy)
    models.download()
    vae = tmp_path / "models" / "Wan2.2_VAE.safetensors"
    flip_bytes(vae, 12)  # inside the JSON header

    problems = models.verify()

    assert problems and {problem.file for problem in problems} == {"Wan2.2_VAE.safetensors"}
    assert {r.name: r.state for r in models.status()}["vae"] is ModelState.CORRUPT


def test_delete_removes_exactly_the_component(mirror: Path, tmp_path: Path) -> None:
    models = manager(tmp_path, mirror)
    models.download()
    before = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    usage = models.disk_usage().by_component

    freed = models.delete(["wav2vec2", "yolox"])

    assert freed == usage["wav2vec2"] + usage["yolox"]
    after = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    deleted = {"wav2vec2", "yolox"}
    gone = {p for p in before if component_of(p.relative_to(tmp_path).as_posix()) in deleted}
    assert set(before) - set(after) == gone
    assert all(after[path] == before[path] for path in after)
    assert not (tmp_path / "wav2vec2-base-960h").exists()
    states = {r.name: r.state for r in models.status()}
    assert states["wav2vec2"] is states["yolox"] is ModelState.MISSING
    assert states["rtmw"] is ModelState.READY

    models.delete(["rtmw"])
    assert not (tmp_path / "dwpose_tools").exists()  # emptied parents are pruned
    models.delete()
    assert list(tmp_path.iterdir()) == []


def test_disk_usage_counts_each_component_and_partial_files(mirror: Path, tmp_path: Path) -> None:
    models = manager(tmp_path, mirror)
    cancel = threading.Event()

    def cancel_in_whisper(event: DownloadProgress) -> None:
        if event.component == "whisper" and event.file_bytes_done > 0:
            cancel.set()

    with pytest.raises(JobCancelled):
        models.download(cancel_in_whisper, cancel)
    usage = models.disk_usage()

    expected: dict[str, int] = {entry.name: 0 for entry in COMPONENTS}
    for file in listed(mirror):
        name = component_of(file.path)
        if name and (tmp_path / file.path).is_file():
            expected[name] += file.size_bytes
    partial = tmp_path / ("whisper/large-v2.pt" + PARTIAL_SUFFIX)
    expected["whisper"] += partial.stat().st_size
    assert usage.by_component == expected
    assert usage.partial_bytes == partial.stat().st_size > 0
    assert usage.total_bytes == sum(expected.values())
    assert usage.free_bytes > 0


def test_rate_limit_and_progress_interval_are_honoured(mirror: Path, tmp_path: Path) -> None:
    rate_bps = 4e6
    models = ModelManager(
        tmp_path,
        LocalSource(mirror, chunk_bytes=CHUNK_BYTES),
        max_bps=rate_bps,
        progress_interval_s=0.05,
    )
    size_bytes = models.plan(["vae"]).bytes_total
    events: list[DownloadProgress] = []
    start_s = time.monotonic()

    models.download(events.append, only=["vae"])

    elapsed_s = time.monotonic() - start_s
    assert elapsed_s >= size_bytes / rate_bps * 0.95  # sleeps are never shorter than asked
    downloading = [e for e in events if e.state is DownloadState.DOWNLOADING]
    assert len(downloading) <= elapsed_s / 0.05 + 2  # the first report of a file always comes
    assert len(downloading) < size_bytes // CHUNK_BYTES  # fewer reports than chunks
    assert max(e.speed_bps for e in downloading) > 0


def test_umt5_is_fetched_and_the_text_context_prepared_when_the_source_lacks_it(
    mirror: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "mirror"
    shutil.copytree(mirror, copy)
    context_file = copy / "checkpoints" / "xdub_text_context.safetensors"
    expected = load_file(context_file)["context"]
    context_file.unlink()
    write_manifest(copy / "checkpoints")
    models = manager(tmp_path / "models", copy)

    assert {"umt5", "tokenizer"} <= set(models.default_selection())
    assert "text_context" in models.plan().unavailable
    result = models.download(context_device="cpu")

    assert result.has_prepared_context
    assert "umt5 can now be deleted" in result.note
    written = load_file(tmp_path / "models" / "xdub_text_context.safetensors")["context"]
    assert torch.equal(written, expected)  # same tiny umt5, same fp32 computation
    assert ModelFolder(tmp_path / "models").verify() == []


def test_unknown_component_names_are_refused(mirror: Path, tmp_path: Path) -> None:
    models = manager(tmp_path, mirror)
    with pytest.raises(ModelError) as caught:
        models.plan(["ditt"])
    assert caught.value.code == "unknown_model"
    assert "ditt" in caught.value.message
