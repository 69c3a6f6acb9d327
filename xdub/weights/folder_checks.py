"""The file check of each model-folder component: keys, shapes and dtypes against the code.

``CHECKS[name]`` compares a present component with what the model code expects, built on the
meta device. Safetensors are checked from their headers and ``.pt`` files memory-mapped, so the
30 GB of DiT, VAE, umt5 and Whisper cost a few megabytes of reads; only the two pose ``.pth``
files (0.6 GB) are read whole. This module imports torch, transformers and DiffSynth; the
folder (``xdub.weights.folder``) imports it only when it runs the checks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from transformers import Wav2Vec2Config, Wav2Vec2Model
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from xdub.audio.whisper import OPENAI_ENCODER_DIMS, openai_to_hf_keys, whisper_config_from_dims
from xdub.errors import ModelError
from xdub.face.nets.checkpoint import read_state_dict
from xdub.face.nets.rtmw import Rtmw
from xdub.face.nets.yolox import Yolox
from xdub.model.config import DiTConfig
from xdub.model.dit import XDubDiT
from xdub.model.vae import build_vae_module
from xdub.weights.loading import (
    FLOAT_DTYPES,
    TensorSpec,
    compare_specs,
    dtype_name,
    module_specs,
    read_safetensors_specs,
)
from xdub.weights.problem import Problem
from xdub.weights.text_config import TEXT_CONTEXT_KEY, TEXT_LENGTH
from xdub.weights.text_context import build_text_encoder as build_umt5

if TYPE_CHECKING:  # the folder imports this module when it runs the checks, not the reverse
    from xdub.weights.folder import Component, ModelFolder

Check = Callable[["ModelFolder", "Component"], list[Problem]]

_TOKENIZER_FILES = (("tokenizer.json", "spiece.model"), ("tokenizer_config.json",))
_WAV2VEC2_FILES = ("config.json", "preprocessor_config.json")
_WAV2VEC2_RENAMES = (
    (".weight_g", ".parametrizations.weight.original0"),
    (".weight_v", ".parametrizations.weight.original1"),
)


def check_component(folder: ModelFolder, entry: Component) -> list[Problem]:
    """The problems of ``entry``'s files in ``folder`` (the component must be present)."""
    return CHECKS[entry.name](folder, entry)


def expected_dit_specs(config: DiTConfig) -> dict[str, TensorSpec]:
    """Keys/shapes an ``X-Dub_model.safetensors`` of ``config`` holds (meta ``state_dict()``;
    at full size the 1245 tensors of the released manifest). Dtypes are the module's, F32."""
    return _meta_specs(lambda: XDubDiT(config))


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


CHECKS: Mapping[str, Check] = {
    "dit": _check_dit,
    "vae": _check_vae,
    "text_context": _check_text_context,
    "umt5": _check_umt5,
    "tokenizer": _check_tokenizer,
    "whisper": _check_whisper,
    "wav2vec2": _check_wav2vec2,
    "yolox": _check_yolox,
    "rtmw": _check_rtmw,
}
"""Each row of ``folder.COMPONENTS`` by name: its file check."""
