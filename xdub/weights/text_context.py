"""The constant text context: umt5-xxl's encoding of the empty prompt, computed once and cached.

X-Dub's prompt is always ``""`` (xdub-reference.md §2.12), so the DiT's text input is a constant
``(1, 512, 4096)`` tensor: the umt5 output with every row at or beyond the token count zeroed.
``xdub models prepare-context`` computes it with DiffSynth's ``WanTextEncoder`` and the
reference tokenizer call, and saves it as ``xdub_text_context.safetensors`` in the model folder;
after that umt5 (11 GB) is never loaded again.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import torch
from diffsynth.models.wan_video_text_encoder import HuggingfaceTokenizer, WanTextEncoder
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from xdub.errors import ModelError
from xdub.weights.loading import load_weights
from xdub.weights.text_config import TEXT_CONTEXT_FILE, TEXT_CONTEXT_KEY, TEXT_LENGTH, Umt5Config

log = logging.getLogger(__name__)

PROMPT = ""


def build_text_encoder(config: Umt5Config) -> WanTextEncoder:
    """A ``WanTextEncoder`` of ``config`` on the meta device (no memory), in eval mode."""
    with torch.device("meta"):
        encoder = WanTextEncoder(**dataclasses.asdict(config))
    return encoder.eval().requires_grad_(False)


def tokenize_prompt(tokenizer_dir: Path) -> tuple[Tensor, Tensor]:
    """Token ids and attention mask of :data:`PROMPT`, each ``(1, 512)`` int64.

    The reference call: DiffSynth's ``HuggingfaceTokenizer`` with whitespace cleaning,
    ``padding="max_length"``, truncation to 512 and special tokens (``""`` -> just ``</s>``).
    """
    try:
        tokenizer = HuggingfaceTokenizer(
            name=str(tokenizer_dir), seq_len=TEXT_LENGTH, clean="whitespace"
        )
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"umt5 tokenizer folder {tokenizer_dir} cannot be loaded ({exc})",
            hint="the folder needs tokenizer.json (or spiece.model) and tokenizer_config.json",
        ) from exc
    ids, mask = tokenizer(PROMPT, return_mask=True, add_special_tokens=True)
    return ids, mask


@torch.no_grad()
def compute_text_context(
    tokenizer_dir: Path,
    encoder_path: Path,
    device: torch.device | str,
    dtype: torch.dtype,
    *,
    config: Umt5Config | None = None,
) -> Tensor:
    """umt5 context of the empty prompt, ``(1, 512, dim)`` in ``dtype`` on ``device``.

    Rows at or beyond the prompt's token count are zero (only row 0 is non-zero for ``""``).
    The encoder is loaded for this call only and freed on return.
    """
    ids, mask = tokenize_prompt(tokenizer_dir)
    encoder = build_text_encoder(config or Umt5Config.umt5_xxl())
    load_weights(encoder, encoder_path, device=device, dtype=dtype)
    context = encoder(ids.to(device), mask.to(device))
    num_tokens = int(mask.gt(0).sum())
    context[:, num_tokens:] = 0
    log.debug("text context %s from %d prompt tokens", tuple(context.shape), num_tokens)
    return context


def save_text_context(context: Tensor, path: Path, *, encoder_file: str) -> None:
    """Write ``context (1, 512, dim)`` to ``path``; ``encoder_file`` is noted in the metadata."""
    if context.ndim != 3 or context.shape[:2] != (1, TEXT_LENGTH):
        raise ValueError(f"context must be (1, {TEXT_LENGTH}, dim); got {tuple(context.shape)}")
    metadata = {"prompt": PROMPT, "encoder": encoder_file}
    save_file({TEXT_CONTEXT_KEY: context.detach().cpu().contiguous()}, str(path), metadata=metadata)


def load_text_context(folder: Path) -> Tensor:
    """The cached context ``(1, 512, text_dim)`` of a model folder, on the CPU, stored dtype."""
    path = Path(folder) / TEXT_CONTEXT_FILE
    if not path.is_file():
        raise ModelError(
            f"{TEXT_CONTEXT_FILE} not found in {folder}",
            code="model_missing",
            hint=f"run `xdub models prepare-context {folder}` once",
        )
    try:
        tensors = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise ModelError(f"{path}: unreadable ({exc})", hint="run prepare-context again") from exc
    context = tensors.get(TEXT_CONTEXT_KEY)
    if context is None or context.ndim != 3 or context.shape[:2] != (1, TEXT_LENGTH):
        found = {name: tuple(t.shape) for name, t in tensors.items()}
        raise ModelError(
            f"{path}: expected tensor {TEXT_CONTEXT_KEY!r} of shape (1, {TEXT_LENGTH}, dim), "
            f"found {found}",
            hint="run prepare-context again",
        )
    return context
