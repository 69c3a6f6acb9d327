"""Whisper large-v2 encoder features through transformers (reference §2.6).

The bundle ships OpenAI's ``whisper/large-v2.pt`` (``{"dims": ..., "model_state_dict": ...}``,
fp16 tensors). We convert its *encoder* half to transformers' ``WhisperEncoder`` layout at load
time (decoder tensors are dropped, nothing is written back); a transformers folder
(``WhisperForConditionalGeneration``/``WhisperModel``/``WhisperEncoder`` ``save_pretrained``) is
accepted as well.

X-Dub's feature is the output of the **last block before** ``ln_post``, so the loaded encoder's
final ``layer_norm`` is replaced by an identity and each 30 s chunk runs through the encoder once.

Dtypes. On CUDA the reference runs in fp16: weights cast to fp16, LayerNorm computed in fp32 and
cast back, softmax in fp32. We keep LayerNorms in fp32 the same way (:class:`Fp32LayerNorm`;
transformers' own half LayerNorm rounds differently, up to 1 ulp on the CPU). Attention is
transformers' SDPA: its fused kernels keep the logits and softmax in fp32 instead of rounding the
logits to fp16 first as the reference does, and it scales q by ``head_dim**-0.5`` instead of q and
k by ``head_dim**-0.25`` each, so fp16 results differ from the reference at fp16 rounding level
(the test measures the gap on the CPU). transformers also clamps each layer's fp16 output to
±(65504 - 1000), where the reference would overflow to inf. On the CPU everything is fp32.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import safe_open
from torch import Tensor, nn
from transformers import WhisperConfig
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from xdub.errors import ModelError

log = logging.getLogger(__name__)

OPENAI_ENCODER_DIMS = ("n_mels", "n_audio_ctx", "n_audio_state", "n_audio_head", "n_audio_layer")
_OPENAI_BLOCK_TO_HF = {
    "attn.query.weight": "self_attn.q_proj.weight",
    "attn.query.bias": "self_attn.q_proj.bias",
    "attn.key.weight": "self_attn.k_proj.weight",
    "attn.value.weight": "self_attn.v_proj.weight",
    "attn.value.bias": "self_attn.v_proj.bias",
    "attn.out.weight": "self_attn.out_proj.weight",
    "attn.out.bias": "self_attn.out_proj.bias",
    "attn_ln.weight": "self_attn_layer_norm.weight",
    "attn_ln.bias": "self_attn_layer_norm.bias",
    "mlp.0.weight": "fc1.weight",
    "mlp.0.bias": "fc1.bias",
    "mlp.2.weight": "fc2.weight",
    "mlp.2.bias": "fc2.bias",
    "mlp_ln.weight": "final_layer_norm.weight",
    "mlp_ln.bias": "final_layer_norm.bias",
}
_OPENAI_TOP_TO_HF = {
    "conv1.weight": "conv1.weight",
    "conv1.bias": "conv1.bias",
    "conv2.weight": "conv2.weight",
    "conv2.bias": "conv2.bias",
    "positional_embedding": "embed_positions.weight",
    "ln_post.weight": "layer_norm.weight",
    "ln_post.bias": "layer_norm.bias",
}
_HF_ENCODER_PREFIXES = ("model.encoder.", "encoder.", "")
_MAX_LISTED = 5
# (config, tensors under transformers names, transformers name -> the name in the source file)
_Weights = tuple[WhisperConfig, dict[str, Tensor], Callable[[str], str]]


class Fp32LayerNorm(nn.LayerNorm):
    """LayerNorm with fp32 parameters that computes in fp32 and returns the input's dtype."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.float()).to(x.dtype)


def whisper_config_from_dims(dims: Mapping[str, object]) -> WhisperConfig:
    """Encoder ``WhisperConfig`` from OpenAI ``ModelDimensions`` (decoder fields left default)."""
    if not isinstance(dims, Mapping):
        raise ModelError(f"whisper checkpoint 'dims' must be a mapping, got {type(dims).__name__}")
    sizes = {name: n for name in OPENAI_ENCODER_DIMS if isinstance(n := dims.get(name), int)}
    missing = [name for name in OPENAI_ENCODER_DIMS if name not in sizes]
    if missing:
        raise ModelError(f"whisper checkpoint 'dims' lacks integer entries {missing}: {dict(dims)}")
    width = sizes["n_audio_state"]
    return WhisperConfig(
        num_mel_bins=sizes["n_mels"],
        d_model=width,
        encoder_layers=sizes["n_audio_layer"],
        encoder_attention_heads=sizes["n_audio_head"],
        encoder_ffn_dim=4 * width,
        max_source_positions=sizes["n_audio_ctx"],
    )


def openai_to_hf_keys(num_layers: int) -> dict[str, str]:
    """OpenAI encoder key (without ``encoder.``) -> transformers ``WhisperEncoder`` key."""
    keys = dict(_OPENAI_TOP_TO_HF)
    for i in range(num_layers):
        for name, hf_name in _OPENAI_BLOCK_TO_HF.items():
            keys[f"blocks.{i}.{name}"] = f"layers.{i}.{hf_name}"
    return keys


def convert_openai_encoder(
    state_dict: Mapping[str, Tensor], num_layers: int, *, source: str = "whisper checkpoint"
) -> dict[str, Tensor]:
    """Encoder tensors of an OpenAI ``model_state_dict`` under transformers names.

    ``decoder.*`` tensors are dropped; a missing or unknown ``encoder.*`` key is a ``ModelError``.
    """
    mapping = openai_to_hf_keys(num_layers)
    encoder = {k[len("encoder.") :]: v for k, v in state_dict.items() if k.startswith("encoder.")}
    missing = sorted(set(mapping) - set(encoder))
    unknown = sorted(set(encoder) - set(mapping))
    if missing or unknown:
        raise ModelError(
            f"{source}: encoder keys do not match an OpenAI Whisper encoder with {num_layers} "
            f"layers; missing {_listing(['encoder.' + k for k in missing])}, "
            f"unexpected {_listing(['encoder.' + k for k in unknown])}",
            hint="re-download the file; it may be truncated or a different model",
        )
    return {mapping[k]: v for k, v in encoder.items()}


def load_whisper_encoder(
    path: Path, *, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> WhisperEncoder:
    """Full ``WhisperEncoder`` (incl. ``layer_norm`` = ``ln_post``), eval mode, on ``device``.

    ``path``: OpenAI ``*.pt`` file or a transformers folder. Below fp32, LayerNorms stay fp32.
    """
    path = Path(path)
    if path.is_dir():
        weights = _read_hf_folder(path)
    elif path.is_file():
        weights = _read_openai_checkpoint(path)
    else:
        raise ModelError(f"whisper model not found: {path}", hint="run `xdub models download`")
    config, tensors, _ = weights
    with torch.device("meta"):
        encoder = WhisperEncoder(config)
    _check_shapes(encoder, weights, source=str(path))
    fp32_keys = _use_fp32_layer_norms(encoder) if dtype != torch.float32 else set()
    tensors = {
        k: v.to(device=device, dtype=torch.float32 if k in fp32_keys else dtype)
        for k, v in tensors.items()
    }
    encoder.load_state_dict(tensors, strict=True, assign=True)
    log.debug(
        "whisper encoder %s: %d layers, width %d, %s",
        path,
        config.encoder_layers,
        config.d_model,
        dtype,
    )
    return encoder.eval().requires_grad_(False)


def whisper_dtype(device: torch.device | str) -> torch.dtype:
    """The reference's Whisper precision on ``device``: fp16 on CUDA, fp32 elsewhere."""
    return torch.float16 if torch.device(device).type == "cuda" else torch.float32


class WhisperFeatureEncoder:
    """Whisper encoder returning the last block's output before ``ln_post``, 50 frames/s."""

    def __init__(self, encoder: WhisperEncoder) -> None:
        """Takes ownership of ``encoder`` and removes its final ``layer_norm`` (``ln_post``)."""
        encoder.layer_norm = nn.Identity()  # type: ignore[assignment]  # drop ln_post
        self.encoder = encoder

    @classmethod
    def load(
        cls, path: Path, *, device: torch.device | str = "cpu", dtype: torch.dtype | None = None
    ) -> WhisperFeatureEncoder:
        """Load from ``path``; ``dtype`` defaults to fp16 on CUDA and fp32 elsewhere (reference)."""
        return cls(load_whisper_encoder(path, device=device, dtype=dtype or whisper_dtype(device)))

    @property
    def chunk_frames(self) -> int:
        """Mel frames per encoder call: 2 × n_audio_ctx (3000 = 30 s for every released model)."""
        return 2 * int(self.encoder.config.max_source_positions)

    @property
    def width(self) -> int:
        return int(self.encoder.config.d_model)

    @property
    def dtype(self) -> torch.dtype:
        return self.encoder.conv1.weight.dtype

    @torch.no_grad()
    def encode(self, log_mel: Tensor) -> Tensor:
        """Features of a whole file's log-mel; (n_mels, M) -> (F, width) float32 on the CPU.

        The mel is cut into ``chunk_frames`` chunks, each zero-padded (in normalised log-mel
        units) to full length; of each chunk's outputs the first ``len // 2`` are kept, so
        ``F = M // 2`` (chunks are even-length), 20 ms per frame.
        """
        n_mels = int(self.encoder.config.num_mel_bins)
        if log_mel.ndim != 2 or log_mel.shape[0] != n_mels:
            raise ValueError(f"log_mel must be ({n_mels}, M), got {tuple(log_mel.shape)}")
        device = self.encoder.conv1.weight.device
        chunk = self.chunk_frames
        pieces = []
        for start in range(0, log_mel.shape[1], chunk):
            piece = log_mel[:, start : start + chunk]
            num_keep = piece.shape[1] // 2
            padded = F.pad(piece, (0, chunk - piece.shape[1]))
            hidden = self.encoder(padded[None].to(device=device, dtype=self.dtype))
            pieces.append(hidden.last_hidden_state[0, :num_keep].float().cpu())
        return torch.cat(pieces)


def _read_openai_checkpoint(path: Path) -> _Weights:
    checkpoint = _torch_load(path)
    if not isinstance(checkpoint, dict) or not {"dims", "model_state_dict"} <= checkpoint.keys():
        found = sorted(checkpoint) if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise ModelError(
            f"{path}: not an OpenAI Whisper checkpoint (need 'dims' and 'model_state_dict', "
            f"found {found})"
        )
    config = whisper_config_from_dims(checkpoint["dims"])
    state = checkpoint["model_state_dict"]
    if not isinstance(state, dict):
        raise ModelError(f"{path}: 'model_state_dict' is a {type(state).__name__}, not a dict")
    tensors = convert_openai_encoder(state, config.encoder_layers, source=str(path))
    mapping = openai_to_hf_keys(config.encoder_layers)
    hf_to_openai = {hf: f"encoder.{key}" for key, hf in mapping.items()}
    return config, tensors, hf_to_openai.__getitem__


def _read_hf_folder(folder: Path) -> _Weights:
    if not (folder / "config.json").is_file():
        raise ModelError(f"{folder}: transformers Whisper folder has no config.json")
    config = WhisperConfig.from_pretrained(folder, local_files_only=True)
    tensors = _read_hf_weights(folder)
    prefix = next((p for p in _HF_ENCODER_PREFIXES if p + "conv1.weight" in tensors), None)
    if prefix is None:
        raise ModelError(f"{folder}: no Whisper encoder weights (conv1.weight) found")
    picked = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
    return config, picked, lambda key: prefix + key


def _read_hf_weights(folder: Path) -> dict[str, Tensor]:
    """Non-decoder tensors of a ``save_pretrained`` folder (safetensors, maybe sharded; .bin)."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        files = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    elif (folder / "model.safetensors").is_file():
        files = ["model.safetensors"]
    elif (folder / "pytorch_model.bin").is_file():
        state = _torch_load(folder / "pytorch_model.bin")
        if not isinstance(state, dict):
            raise ModelError(f"{folder / 'pytorch_model.bin'}: not a state dict")
        return {k: v for k, v in state.items() if isinstance(v, Tensor) and _is_encoder_side(k)}
    else:
        raise ModelError(f"{folder}: no model.safetensors or pytorch_model.bin")
    tensors: dict[str, Tensor] = {}
    for name in files:
        try:
            with safe_open(str(folder / name), framework="pt") as handle:
                for key in filter(_is_encoder_side, handle.keys()):
                    tensors[key] = handle.get_tensor(key)
        except (OSError, ValueError) as error:
            raise ModelError(f"{folder / name}: unreadable safetensors file ({error})") from error
    return tensors


def _is_encoder_side(key: str) -> bool:
    """False for the decoder and the LM head of a ``WhisperForConditionalGeneration``."""
    return "decoder." not in key and not key.startswith("proj_out.")


def _torch_load(path: Path) -> object:
    """``torch.load(weights_only=True)``, memory-mapped when the file format allows it."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError:
        pass  # legacy (non-zip) format cannot be memory-mapped; read it whole below
    except Exception as error:  # torch raises many types for a corrupt file
        raise ModelError(f"{path}: unreadable torch checkpoint ({error})") from error
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ModelError(f"{path}: unreadable torch checkpoint ({error})") from error


def _check_shapes(encoder: WhisperEncoder, weights: _Weights, *, source: str) -> None:
    """``ModelError`` naming each missing, unexpected or mis-shaped tensor as the file names it."""
    _, tensors, file_key = weights
    expected = {k: tuple(v.shape) for k, v in encoder.state_dict().items()}
    missing = sorted(file_key(k) for k in set(expected) - set(tensors))
    unexpected = sorted(file_key(k) for k in set(tensors) - set(expected))
    wrong = [
        f"{file_key(k)} has shape {list(tensors[k].shape)}, expected {list(expected[k])}"
        for k in sorted(set(expected) & set(tensors))
        if tuple(tensors[k].shape) != expected[k]
    ]
    if missing or unexpected or wrong:
        raise ModelError(
            f"{source}: Whisper encoder weights do not match its config; missing "
            f"{_listing(missing)}, unexpected {_listing(unexpected)}, mismatched {_listing(wrong)}",
            hint="re-download the file; it may be truncated or a different model",
        )


def _use_fp32_layer_norms(encoder: nn.Module) -> set[str]:
    """Swap every ``nn.LayerNorm`` for :class:`Fp32LayerNorm`; returns their parameter names."""
    names: set[str] = set()
    for parent_name, parent in list(encoder.named_modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.LayerNorm:
                device = child.weight.device
                norm = Fp32LayerNorm(child.normalized_shape, eps=child.eps, device=device)
                setattr(parent, name, norm)
                prefix = f"{parent_name}.{name}" if parent_name else name
                names.update(f"{prefix}.{p}" for p, _ in norm.named_parameters())
    return names


def _listing(items: list[str]) -> str:
    if not items:
        return "none"
    more = f" (+{len(items) - _MAX_LISTED} more)" if len(items) > _MAX_LISTED else ""
    return ", ".join(items[:_MAX_LISTED]) + more
