"""The model folder: the released bundle's layout, its metadata, and verification.

A folder mirrors ``checkpoints/`` of the Hugging Face repo ``KlingTeam/X-Dub`` (reference §3.4)
plus two files of ours: ``xdub_text_context.safetensors`` (the cached umt5 context) and, in
generated folders only, ``xdub-model.json`` (configs of every component and
``"test_weights": true``). Without that file the released configs are assumed.

``COMPONENTS`` is the one table of what a folder holds; the model manager reuses it. Each entry's
``check`` compares a file with what the model code expects (keys, shapes, dtypes). Safetensors
are checked from their headers and ``.pt`` files memory-mapped, so the 30 GB of DiT, VAE, umt5 and
Whisper cost a few megabytes of reads; only the two pose ``.pth`` files (0.6 GB) are read whole.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from transformers import Wav2Vec2Config, Wav2Vec2Model
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from xdub.audio.whisper import OPENAI_ENCODER_DIMS, openai_to_hf_keys, whisper_config_from_dims
from xdub.errors import ModelError
from xdub.face.checkpoint import read_state_dict
from xdub.face.crop import CROP_SIZE
from xdub.face.rtmw import Rtmw, RtmwConfig
from xdub.face.yolox import Yolox, YoloxConfig
from xdub.model.config import DiTConfig
from xdub.model.dit import XDubDiT
from xdub.model.loading import (
    FLOAT_DTYPES,
    Problem,
    TensorSpec,
    compare_specs,
    dtype_name,
    module_specs,
    read_safetensors_specs,
)
from xdub.model.text_context import TEXT_CONTEXT_FILE, TEXT_CONTEXT_KEY, TEXT_LENGTH, Umt5Config
from xdub.model.text_context import build_text_encoder as build_umt5
from xdub.model.vae import VaeConfig, build_vae_module

log = logging.getLogger(__name__)

METADATA_FILE = "xdub-model.json"
METADATA_FORMAT = 1
POSE_DIR = "dwpose_tools/models"
RELEASED_WHISPER_DIMS: Mapping[str, int] = {
    "n_mels": 80,
    "n_audio_ctx": 1500,
    "n_audio_state": 1280,
    "n_audio_head": 20,
    "n_audio_layer": 32,
}
RELEASED_WAV2VEC2 = {"hidden_size": 768, "num_hidden_layers": 12}
_TOKENIZER_FILES = (("tokenizer.json", "spiece.model"), ("tokenizer_config.json",))
_WAV2VEC2_FILES = ("config.json", "preprocessor_config.json")
_WAV2VEC2_RENAMES = (
    (".weight_g", ".parametrizations.weight.original0"),
    (".weight_v", ".parametrizations.weight.original1"),
)


# -- metadata --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentInfo:
    """What ``xdub-model.json`` says about one component.

    ``dtype``: the safetensors dtype every floating tensor has (None: any of F32/F16/BF16).
    ``config``: the component's constructor config as JSON (None: the released one).
    """

    dtype: str | None = None
    config: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class FolderMetadata:
    """Contents of ``xdub-model.json``; the default instance describes a released folder."""

    is_test_weights: bool = False
    seed: int | None = None
    components: Mapping[str, ComponentInfo] = field(default_factory=dict)
    crop_size: int = CROP_SIZE
    """Side of the square face crop the DiT works on: 512 for the released model; tiny test
    folders use a small one so that a CPU runs a take in seconds."""

    def info(self, name: str) -> ComponentInfo:
        return self.components.get(name, ComponentInfo())

    def to_json(self) -> str:
        data = {
            "format": METADATA_FORMAT,
            "test_weights": self.is_test_weights,
            "note": "TEST WEIGHTS: seeded random values, not a usable model"
            if self.is_test_weights
            else "",
            "seed": self.seed,
            "crop_size": self.crop_size,
            "components": {
                name: {"dtype": info.dtype, "config": info.config}
                for name, info in self.components.items()
            },
        }
        return json.dumps(data, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FolderMetadata:
        """Parse ``xdub-model.json``; a malformed file raises ``ModelError``."""
        try:
            data = json.loads(text)
            if data["format"] != METADATA_FORMAT:
                raise ModelError(f"{METADATA_FILE}: format {data['format']} is unsupported")
            components = {
                str(name): ComponentInfo(dtype=entry.get("dtype"), config=entry.get("config"))
                for name, entry in data.get("components", {}).items()
            }
            crop_size = int(data.get("crop_size", CROP_SIZE))
            if crop_size <= 0 or crop_size % 16:
                raise ModelError(f"{METADATA_FILE}: crop_size {crop_size} is not a multiple of 16")
            return cls(bool(data["test_weights"]), data.get("seed"), components, crop_size)
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ModelError(f"{METADATA_FILE}: malformed ({exc!r})", code="model_corrupt") from exc


# -- the folder ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Component:
    """One entry of the folder table.

    ``path`` is relative to the folder (and to ``checkpoints/`` in the HF repo); a trailing
    ``/`` marks a folder. ``approx_size_bytes`` is the released size as estimated in reference
    §3.4 (None when unknown). ``check`` returns the problems of a present component.
    """

    name: str
    path: str
    is_required: bool
    approx_size_bytes: int | None
    summary: str
    check: Callable[[ModelFolder, Component], list[Problem]]


@dataclass(frozen=True)
class ComponentStatus:
    """One row of ``verify``: the entry, whether it exists, its bytes on disk, its problems."""

    component: Component
    is_present: bool
    size_bytes: int
    problems: list[Problem]


class ModelFolder:
    """A model folder at ``root``: paths, configs (metadata or released) and verification."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, name: str) -> Path:
        """Absolute path of component ``name`` (see ``COMPONENTS``)."""
        return self.root / component(name).path.rstrip("/")

    @cached_property
    def metadata(self) -> FolderMetadata:
        path = self.root / METADATA_FILE
        return FolderMetadata.from_json(path.read_text()) if path.is_file() else FolderMetadata()

    def dit_config(self) -> DiTConfig:
        config = self.metadata.info("dit").config
        return DiTConfig.from_json(json.dumps(config)) if config else DiTConfig.x_dub()

    def vae_config(self) -> VaeConfig:
        config = self.metadata.info("vae").config
        return VaeConfig.from_json(config) if config else VaeConfig.wan22()

    def umt5_config(self) -> Umt5Config:
        config = self.metadata.info("umt5").config
        return Umt5Config.from_json(config) if config else Umt5Config.umt5_xxl()

    def yolox_config(self) -> YoloxConfig:
        return _dataclass_from_json(YoloxConfig, self.metadata.info("yolox").config)

    def rtmw_config(self) -> RtmwConfig:
        return _dataclass_from_json(RtmwConfig, self.metadata.info("rtmw").config)

    def whisper_dims(self) -> Mapping[str, int]:
        return self.metadata.info("whisper").config or RELEASED_WHISPER_DIMS

    def wav2vec2_expected(self) -> Mapping[str, int]:
        return self.metadata.info("wav2vec2").config or RELEASED_WAV2VEC2

    def status(self) -> list[ComponentStatus]:
        """Presence, size on disk and problems of every component.

        The file checks are skipped (empty problems) while :meth:`config_problems` is non-empty,
        since the expected structures come from those configs.
        """
        is_consistent = not self.config_problems()
        statuses = []
        for entry in COMPONENTS:
            path = self.root / entry.path.rstrip("/")
            is_present = path.exists()
            problems: list[Problem] = []
            if is_present and is_consistent:
                problems = entry.check(self, entry)
            elif not is_present and entry.is_required:
                problems = [_missing(self, entry)]
            statuses.append(ComponentStatus(entry, is_present, _disk_size(path), problems))
        return statuses

    def verify(self) -> list[Problem]:
        """Every problem of the folder; empty when it is complete and matches its configs."""
        problems = self.config_problems()
        return problems + [problem for status in self.status() for problem in status.problems]

    def config_problems(self) -> list[Problem]:
        """A broken ``xdub-model.json`` or configs that do not fit together (no file reads)."""
        try:
            return self._config_mismatches()
        except ModelError as exc:
            return [Problem(METADATA_FILE, exc.message.removeprefix(f"{METADATA_FILE}: "))]

    def _config_mismatches(self) -> list[Problem]:
        dit = self.dit_config()
        umt5 = self.umt5_config()
        audio_width = int(self.whisper_dims()["n_audio_state"]) + int(
            self.wav2vec2_expected()["hidden_size"]
        )
        problems = []
        if dit.text_dim != umt5.dim:
            problems.append(
                Problem(METADATA_FILE, f"DiT text_dim {dit.text_dim} != umt5 dim {umt5.dim}")
            )
        if dit.audio.in_dim != audio_width:
            problems.append(
                Problem(
                    METADATA_FILE,
                    f"DiT audio input {dit.audio.in_dim} != whisper + wav2vec2 width {audio_width}",
                )
            )
        return problems


def _dataclass_from_json(cls: Any, config: Mapping[str, Any] | None) -> Any:
    """``cls(**config)`` with JSON lists back as tuples; ``cls()`` (released) for None."""
    if not config:
        return cls()
    try:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})
    except TypeError as exc:
        raise ModelError(f"invalid {cls.__name__} {dict(config)!r}: {exc}") from exc


def config_to_json(config: Any) -> dict[str, Any]:
    """A frozen config dataclass as JSON-ready values (the inverse of the folder's readers)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def _missing(folder: ModelFolder, entry: Component) -> Problem:
    if entry.name == "text_context":
        return Problem(
            TEXT_CONTEXT_FILE,
            "is missing (the cached umt5 context of the empty prompt)",
            hint=f"run `xdub models prepare-context {folder.root}`",
        )
    return Problem(entry.path, "is missing", hint="run `xdub models download`")


def _disk_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    if path.is_dir():
        return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())
    return 0


# -- checks ----------------------------------------------------------------------------------


def _allowed(folder: ModelFolder, entry: Component) -> frozenset[str]:
    dtype = folder.metadata.info(entry.name).dtype
    return frozenset({dtype}) if dtype else FLOAT_DTYPES


def _check_safetensors(
    folder: ModelFolder, entry: Component, expected: Mapping[str, TensorSpec]
) -> list[Problem]:
    try:
        found = read_safetensors_specs(folder.root / entry.path, entry.path)
    except ModelError as exc:
        return [Problem(entry.path, exc.message.removeprefix(f"{entry.path}: "), hint=exc.hint)]
    return compare_specs(entry.path, found, expected, allowed_dtypes=_allowed(folder, entry))


def _meta_specs(build: Callable[[], torch.nn.Module]) -> dict[str, TensorSpec]:
    with torch.device("meta"):
        return module_specs(build())


def expected_dit_specs(config: DiTConfig) -> dict[str, TensorSpec]:
    """Keys/shapes an ``X-Dub_model.safetensors`` of ``config`` holds (meta ``state_dict()``;
    at full size the 1245 tensors of the released manifest). Dtypes are the module's, F32."""
    return _meta_specs(lambda: XDubDiT(config))


def _check_dit(folder: ModelFolder, entry: Component) -> list[Problem]:
    return _check_safetensors(folder, entry, expected_dit_specs(folder.dit_config()))


def _check_vae(folder: ModelFolder, entry: Component) -> list[Problem]:
    return _check_safetensors(folder, entry, module_specs(build_vae_module(folder.vae_config())))


def _check_umt5(folder: ModelFolder, entry: Component) -> list[Problem]:
    return _check_safetensors(folder, entry, module_specs(build_umt5(folder.umt5_config())))


def _check_text_context(folder: ModelFolder, entry: Component) -> list[Problem]:
    shape = (1, TEXT_LENGTH, folder.dit_config().text_dim)
    return _check_safetensors(folder, entry, {TEXT_CONTEXT_KEY: TensorSpec(shape, "F32")})


def _check_tokenizer(folder: ModelFolder, entry: Component) -> list[Problem]:
    root = folder.root / entry.path
    return [
        Problem(entry.path, f"has none of {' / '.join(names)}")
        for names in _TOKENIZER_FILES
        if not any((root / name).is_file() for name in names)
    ]


def _check_whisper(folder: ModelFolder, entry: Component) -> list[Problem]:
    checkpoint = _load_mmap(folder.root / entry.path)
    if isinstance(checkpoint, str):
        return [Problem(entry.path, checkpoint, hint="download the file again")]
    if not isinstance(checkpoint, dict) or not {"dims", "model_state_dict"} <= checkpoint.keys():
        return [Problem(entry.path, "is not an OpenAI Whisper checkpoint (dims, model_state_dict)")]
    dims, expected_dims = checkpoint["dims"], folder.whisper_dims()
    problems = [
        Problem(entry.path, f"dims {name} is {dims.get(name)}, expected {expected_dims[name]}")
        for name in OPENAI_ENCODER_DIMS
        if dims.get(name) != expected_dims[name]
    ]
    if problems:
        return problems
    config = whisper_config_from_dims(dims)
    hf_specs = _meta_specs(lambda: WhisperEncoder(config))
    expected = {
        f"encoder.{key}": hf_specs[hf_key]
        for key, hf_key in openai_to_hf_keys(config.encoder_layers).items()
    }
    found = {
        name: TensorSpec(tuple(tensor.shape), dtype_name(tensor.dtype))
        for name, tensor in checkpoint["model_state_dict"].items()
        if name.startswith("encoder.")
    }
    return compare_specs(entry.path, found, expected, allowed_dtypes=_allowed(folder, entry))


def _check_wav2vec2(folder: ModelFolder, entry: Component) -> list[Problem]:
    root = folder.root / entry.path
    problems = [
        Problem(f"{entry.path}{name}", "is missing")
        for name in _WAV2VEC2_FILES
        if not (root / name).is_file()
    ]
    if problems:
        return problems
    config_label = f"{entry.path}config.json"
    try:
        config = Wav2Vec2Config.from_pretrained(root, local_files_only=True)
    except (OSError, ValueError) as exc:
        return [Problem(config_label, f"is unreadable ({exc})")]
    problems = [
        Problem(config_label, f"{name} is {getattr(config, name)}, expected {value}")
        for name, value in folder.wav2vec2_expected().items()
        if getattr(config, name) != value
    ]
    if problems:
        return problems
    weights = root / "model.safetensors"
    label = f"{entry.path}model.safetensors"
    if weights.is_file():
        try:
            found = read_safetensors_specs(weights, label)
        except ModelError as exc:
            return [Problem(label, exc.message.removeprefix(f"{label}: "), hint=exc.hint)]
    elif (root / "pytorch_model.bin").is_file():
        label = f"{entry.path}pytorch_model.bin"
        state = _load_mmap(root / "pytorch_model.bin")
        if isinstance(state, str) or not isinstance(state, dict):
            return [Problem(label, str(state) if isinstance(state, str) else "is not a state dict")]
        found = {k: TensorSpec(tuple(v.shape), dtype_name(v.dtype)) for k, v in state.items()}
    else:
        return [Problem(entry.path, "has no model.safetensors or pytorch_model.bin")]
    expected = _meta_specs(lambda: Wav2Vec2Model(config))
    renamed = {_wav2vec2_key(name): spec for name, spec in found.items()}
    # transformers ignores tensors the bare model lacks (a CTC head, a quantizer).
    used = {name: spec for name, spec in renamed.items() if name in expected}
    return compare_specs(label, used, expected, allowed_dtypes=_allowed(folder, entry))


def _wav2vec2_key(name: str) -> str:
    name = name.removeprefix("wav2vec2.")
    for old, new in _WAV2VEC2_RENAMES:
        if name.endswith(old):
            return name.removesuffix(old) + new
    return name


def _check_pose(
    folder: ModelFolder, entry: Component, build: Callable[[], torch.nn.Module]
) -> list[Problem]:
    """An mmengine ``.pth`` (read whole: ~0.2 / 0.35 GB) against the network's structure."""
    try:
        state = read_state_dict(folder.root / entry.path)
    except ModelError as exc:
        return [Problem(entry.path, exc.message, hint=exc.hint)]
    found = {k: TensorSpec(tuple(v.shape), dtype_name(v.dtype)) for k, v in state.items()}
    expected = _meta_specs(build)
    return compare_specs(entry.path, found, expected, allowed_dtypes=_allowed(folder, entry))


def _check_yolox(folder: ModelFolder, entry: Component) -> list[Problem]:
    config = folder.yolox_config()
    return _check_pose(folder, entry, lambda: Yolox(config))


def _check_rtmw(folder: ModelFolder, entry: Component) -> list[Problem]:
    config = folder.rtmw_config()
    return _check_pose(folder, entry, lambda: Rtmw(config))


def _load_mmap(path: Path) -> object:
    """``torch.load`` memory-mapped and weights-only; an error message string if unreadable."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # torch raises many types for truncated or foreign files
        return f"is unreadable or truncated ({type(exc).__name__}: {exc})"


_YOLOX_FILE = "yolox_l_8x8_300e_coco_20211126_140236-d3bd2b23.pth"
_RTMW_FILE = "rtmw-x_simcc-cocktail14_pt-ucoco_270e-384x288-f840f204_20231122.pth"
COMPONENTS: tuple[Component, ...] = (
    Component("dit", "X-Dub_model.safetensors", True, 12_600_000_000,
              "X-Dub DiT + AudioProj (1245 tensors)", _check_dit),
    Component("vae", "Wan2.2_VAE.safetensors", True, 2_800_000_000,
              "Wan2.2 VAE, DiffSynth-converted (model.* keys)", _check_vae),
    Component("text_context", TEXT_CONTEXT_FILE, True, None,
              "cached umt5 context of the empty prompt (ours)", _check_text_context),
    Component("umt5", "models_t5_umt5-xxl-enc-bf16.safetensors", False, 11_400_000_000,
              "umt5-xxl encoder; only needed to prepare the text context", _check_umt5),
    Component("tokenizer", "umt5-xxl/", False, None,
              "umt5 tokenizer; only needed to prepare the text context", _check_tokenizer),
    Component("whisper", "whisper/large-v2.pt", True, 3_100_000_000,
              "OpenAI Whisper large-v2 checkpoint", _check_whisper),
    Component("wav2vec2", "wav2vec2-base-960h/", True, 380_000_000,
              "transformers wav2vec2-base-960h folder", _check_wav2vec2),
    Component("yolox", f"{POSE_DIR}/{_YOLOX_FILE}", True, 217_000_000,
              "YOLOX-L person detector (mmdet checkpoint)", _check_yolox),
    Component("rtmw", f"{POSE_DIR}/{_RTMW_FILE}", True, 369_000_000,
              "RTMW-x whole-body landmarks (mmpose checkpoint)", _check_rtmw),
)  # fmt: skip


def component(name: str) -> Component:
    """The table entry called ``name``."""
    for entry in COMPONENTS:
        if entry.name == name:
            return entry
    raise KeyError(f"no model component {name!r}; known: {[c.name for c in COMPONENTS]}")
