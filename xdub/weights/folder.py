"""The model folder: the released bundle's layout, its metadata, configs and status.

A folder mirrors ``checkpoints/`` of the Hugging Face repo ``KlingTeam/X-Dub`` (reference §3.4)
plus two files of ours: ``xdub_text_context.safetensors`` (the cached umt5 context) and, in
generated folders only, ``xdub-model.json`` (configs of every component and
``"test_weights": true``). Without that file the released configs are assumed.

``COMPONENTS`` is the one table of what a folder holds; the model manager reuses it. This module
imports neither torch nor transformers nor DiffSynth, so that listing a folder (the daemon's
``models list``, ``xdub models list``) stays cheap. The per-component file checks, which build
the networks on the meta device, live in ``xdub.weights.folder_checks`` and are imported only
when ``status()`` or ``verify()`` runs them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from xdub.errors import ModelError
from xdub.face.crop import CROP_SIZE
from xdub.face.nets.configs import RtmwConfig, YoloxConfig
from xdub.model.config import DiTConfig
from xdub.model.vae_config import VaeConfig
from xdub.weights.disk import bytes_at
from xdub.weights.problem import Problem
from xdub.weights.text_config import TEXT_CONTEXT_FILE, Umt5Config

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


def config_to_json(config: Any) -> dict[str, Any]:
    """A frozen config dataclass as JSON-ready values (the inverse of the folder's readers)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def _dataclass_from_json(cls: Any, config: Mapping[str, Any] | None) -> Any:
    """``cls(**config)`` with JSON lists back as tuples; ``cls()`` (released) for None."""
    if not config:
        return cls()
    try:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})
    except TypeError as exc:
        raise ModelError(f"invalid {cls.__name__} {dict(config)!r}: {exc}") from exc


# -- the table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Component:
    """One entry of the folder table.

    ``path`` is relative to the folder (and to ``checkpoints/`` in the HF repo); a trailing
    ``/`` marks a folder. ``approx_size_bytes`` is the released size as estimated in reference
    §3.4 (None when unknown). Its file check is ``folder_checks.CHECKS[name]``.
    """

    name: str
    path: str
    is_required: bool
    approx_size_bytes: int | None
    summary: str


_YOLOX_FILE = "yolox_l_8x8_300e_coco_20211126_140236-d3bd2b23.pth"
_RTMW_FILE = "rtmw-x_simcc-cocktail14_pt-ucoco_270e-384x288-f840f204_20231122.pth"
COMPONENTS: tuple[Component, ...] = (
    Component("dit", "X-Dub_model.safetensors", True, 12_600_000_000,
              "X-Dub DiT + AudioProj (1245 tensors)"),
    Component("vae", "Wan2.2_VAE.safetensors", True, 2_800_000_000,
              "Wan2.2 VAE, DiffSynth-converted (model.* keys)"),
    Component("text_context", TEXT_CONTEXT_FILE, True, None,
              "cached umt5 context of the empty prompt (ours)"),
    Component("umt5", "models_t5_umt5-xxl-enc-bf16.safetensors", False, 11_400_000_000,
              "umt5-xxl encoder; only needed to prepare the text context"),
    Component("tokenizer", "umt5-xxl/", False, None,
              "umt5 tokenizer; only needed to prepare the text context"),
    Component("whisper", "whisper/large-v2.pt", True, 3_100_000_000,
              "OpenAI Whisper large-v2 checkpoint"),
    Component("wav2vec2", "wav2vec2-base-960h/", True, 380_000_000,
              "transformers wav2vec2-base-960h folder"),
    Component("yolox", f"{POSE_DIR}/{_YOLOX_FILE}", True, 217_000_000,
              "YOLOX-L person detector (mmdet checkpoint)"),
    Component("rtmw", f"{POSE_DIR}/{_RTMW_FILE}", True, 369_000_000,
              "RTMW-x whole-body landmarks (mmpose checkpoint)"),
)  # fmt: skip


def component(name: str) -> Component:
    """The table entry called ``name``."""
    for entry in COMPONENTS:
        if entry.name == name:
            return entry
    raise KeyError(f"no model component {name!r}; known: {[c.name for c in COMPONENTS]}")


def component_of(path: str) -> str | None:
    """The component a folder-relative file path belongs to (None: no component)."""
    for entry in COMPONENTS:
        if path == entry.path or (entry.path.endswith("/") and path.startswith(entry.path)):
            return entry.name
    return None


# -- the folder ------------------------------------------------------------------------------


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
        since the expected structures come from those configs. Running them imports torch.
        """
        from xdub.weights.folder_checks import check_component

        is_consistent = not self.config_problems()
        statuses = []
        for entry in COMPONENTS:
            path = self.root / entry.path.rstrip("/")
            is_present = path.exists()
            problems: list[Problem] = []
            if is_present and is_consistent:
                problems = check_component(self, entry)
            elif not is_present and entry.is_required:
                problems = [_missing(self, entry)]
            statuses.append(ComponentStatus(entry, is_present, bytes_at(path), problems))
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


def _missing(folder: ModelFolder, entry: Component) -> Problem:
    if entry.name == "text_context":
        return Problem(
            TEXT_CONTEXT_FILE,
            "is missing (the cached umt5 context of the empty prompt)",
            hint=f"run `xdub models prepare-context {folder.root}`",
        )
    return Problem(entry.path, "is missing", hint="run `xdub models download`")
