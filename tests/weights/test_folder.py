"""Model folder verification: make-tiny round-trips, and each defect is named precisely."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from xdub.model.config import DiTConfig
from xdub.weights.folder import COMPONENTS, METADATA_FILE, FolderMetadata, ModelFolder
from xdub.weights.folder_checks import CHECKS, expected_dit_specs
from xdub.weights.loading import SAFETENSORS_DTYPES, shape_text
from xdub.weights.tiny import make_tiny_folder


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> ModelFolder:
    return make_tiny_folder(tmp_path_factory.mktemp("models") / "tiny", seed=7)


@pytest.fixture()
def folder(pristine: ModelFolder, tmp_path: Path) -> ModelFolder:
    """A private copy of the tiny folder that a test may damage."""
    return ModelFolder(shutil.copytree(pristine.root, tmp_path / "tiny"))


def rewrite(path: Path, change: dict[str, torch.Tensor], drop: tuple[str, ...] = ()) -> None:
    tensors = {k: v for k, v in load_file(path).items() if k not in drop}
    save_file({**tensors, **change}, str(path))


def messages(folder: ModelFolder) -> list[str]:
    return [str(problem) for problem in folder.verify()]


def test_made_tiny_folder_verifies_clean(pristine: ModelFolder) -> None:
    assert pristine.verify() == []
    assert pristine.metadata.is_test_weights
    assert all(status.is_present for status in pristine.status())
    assert {entry.name for entry in COMPONENTS} <= set(pristine.metadata.components) | {"tokenizer"}


def test_every_component_has_a_file_check() -> None:
    assert set(CHECKS) == {entry.name for entry in COMPONENTS}


def test_same_seed_gives_the_same_weights(pristine: ModelFolder, tmp_path: Path) -> None:
    again = make_tiny_folder(tmp_path / "again", seed=7)
    other = make_tiny_folder(tmp_path / "other", seed=8)
    for name in ("dit", "vae", "umt5"):
        first, second = load_file(pristine.path(name)), load_file(again.path(name))
        assert first.keys() == second.keys()
        assert all(torch.equal(first[key], second[key]) for key in first)
    dit, dit_other = load_file(pristine.path("dit")), load_file(other.path("dit"))
    assert not torch.equal(dit["patch_embedding.weight"], dit_other["patch_embedding.weight"])


def test_truncated_safetensors_is_reported(folder: ModelFolder) -> None:
    path = folder.path("dit")
    with path.open("r+b") as stream:
        stream.truncate(path.stat().st_size // 2)
    [problem] = folder.verify()
    assert problem.file == "X-Dub_model.safetensors"
    assert "truncated" in problem.message


def test_truncated_torch_checkpoint_is_reported(folder: ModelFolder) -> None:
    path = folder.path("whisper")
    with path.open("r+b") as stream:
        stream.truncate(path.stat().st_size - 100)
    [problem] = folder.verify()
    assert str(problem).startswith("whisper/large-v2.pt: is unreadable or truncated")


def test_wrong_shape_names_file_tensor_and_both_shapes(folder: ModelFolder) -> None:
    name = "blocks.1.ffn.0.weight"
    original = load_file(folder.path("dit"))[name]
    rewrite(folder.path("dit"), {name: original[: original.shape[0] // 2].contiguous()})
    half = (original.shape[0] // 2, *original.shape[1:])
    assert messages(folder) == [
        f"X-Dub_model.safetensors: {name} has shape {shape_text(half)}, "
        f"expected {shape_text(tuple(original.shape))}"
    ]


def test_wrong_dtype_names_file_and_tensor(folder: ModelFolder) -> None:
    name = "model.decoder.head.2.weight"
    original = load_file(folder.path("vae"))[name]
    rewrite(folder.path("vae"), {name: original.double()})
    assert messages(folder) == [f"Wan2.2_VAE.safetensors: {name} has dtype F64, expected F32"]


def test_missing_and_unexpected_tensors_are_named(folder: ModelFolder) -> None:
    tensors = load_file(folder.path("umt5"))
    dropped = next(iter(tensors))
    rewrite(folder.path("umt5"), {"extra.weight": torch.zeros(2)}, drop=(dropped,))
    assert sorted(messages(folder)) == sorted(
        [
            f"models_t5_umt5-xxl-enc-bf16.safetensors: {dropped} is missing",
            "models_t5_umt5-xxl-enc-bf16.safetensors: extra.weight is not expected by the model",
        ]
    )


def test_pose_checkpoint_of_another_width_names_file_and_tensor(folder: ModelFolder) -> None:
    path = folder.path("yolox")
    checkpoint = torch.load(path, weights_only=True)
    name, tensor = next(iter(checkpoint["state_dict"].items()))
    checkpoint["state_dict"][name] = torch.cat([tensor, tensor])
    torch.save(checkpoint, path)
    [problem] = folder.verify()
    assert problem.file == f"dwpose_tools/models/{path.name}" and problem.tensor == name
    assert problem.message.startswith("has shape ")


def test_missing_required_component_is_a_problem(folder: ModelFolder) -> None:
    folder.path("vae").unlink()
    [problem] = folder.verify()
    assert str(problem) == "Wan2.2_VAE.safetensors: is missing"
    assert problem.hint


def test_missing_text_context_points_to_prepare_context(folder: ModelFolder) -> None:
    folder.path("text_context").unlink()
    [problem] = folder.verify()
    assert problem.file == "xdub_text_context.safetensors"
    assert problem.hint is not None and "prepare-context" in problem.hint


def test_umt5_is_optional_once_the_context_exists(folder: ModelFolder) -> None:
    folder.path("umt5").unlink()
    shutil.rmtree(folder.path("tokenizer"))
    assert folder.verify() == []


def test_wav2vec2_config_of_another_width_is_reported(folder: ModelFolder) -> None:
    config_path = folder.path("wav2vec2") / "config.json"
    config = json.loads(config_path.read_text())
    config["hidden_size"] *= 2
    config_path.write_text(json.dumps(config))
    [problem] = folder.verify()
    assert problem.file == "wav2vec2-base-960h/config.json"
    assert problem.message.startswith("hidden_size is ")


def test_inconsistent_metadata_is_reported_before_file_checks(folder: ModelFolder) -> None:
    path = folder.root / METADATA_FILE
    data = json.loads(path.read_text())
    data["components"]["umt5"]["config"]["dim"] += 8
    path.write_text(json.dumps(data))
    problems = ModelFolder(folder.root).verify()
    assert [problem.file for problem in problems] == [METADATA_FILE]
    assert "text_dim" in problems[0].message


def test_malformed_metadata_is_reported(folder: ModelFolder) -> None:
    (folder.root / METADATA_FILE).write_text("{not json")
    [problem] = ModelFolder(folder.root).verify()
    assert problem.file == METADATA_FILE


def test_without_metadata_the_released_configs_are_expected(folder: ModelFolder) -> None:
    (folder.root / METADATA_FILE).unlink()
    plain = ModelFolder(folder.root)
    assert not plain.metadata.is_test_weights
    released = DiTConfig.x_dub()
    expected_shape = shape_text((released.dim, released.in_dim, *released.patch))
    assert any(
        str(problem).startswith("X-Dub_model.safetensors: patch_embedding.weight has shape")
        and str(problem).endswith(f"expected {expected_shape}")
        for problem in plain.verify()
    )


def test_metadata_round_trips_through_json(pristine: ModelFolder) -> None:
    metadata = pristine.metadata
    assert FolderMetadata.from_json(metadata.to_json()) == metadata


def test_full_size_dit_structure_is_the_released_manifest(reference_dir: Path) -> None:
    manifest = json.loads((reference_dir / "xdub_dit_keys.json").read_text())
    specs = expected_dit_specs(DiTConfig.x_dub())
    assert {name: list(spec.shape) for name, spec in specs.items()} == manifest


def test_full_size_dit_is_verified_from_its_header_alone(
    reference_dir: Path, pristine: ModelFolder, tmp_path: Path
) -> None:
    """A 12.6 GB bf16 file whose data section is a sparse hole: only the header is read."""
    folder = ModelFolder(shutil.copytree(pristine.root, tmp_path / "full"))
    (folder.root / METADATA_FILE).unlink()
    manifest = json.loads((reference_dir / "xdub_dit_keys.json").read_text())
    header, offset = {}, 0
    itemsize = SAFETENSORS_DTYPES["BF16"].itemsize
    for name, shape in manifest.items():
        size = itemsize * int(torch.Size(shape).numel())
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header).encode()
    with folder.path("dit").open("wb") as stream:
        stream.write(struct.pack("<Q", len(encoded)) + encoded)
        stream.truncate(8 + len(encoded) + offset)
    dit_status = next(s for s in folder.status() if s.component.name == "dit")
    assert dit_status.size_bytes > 12e9
    assert dit_status.problems == []
