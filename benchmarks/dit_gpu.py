"""Seconds per denoising step and peak VRAM of the full-size X-Dub DiT on one CUDA GPU.

One step is one forward of the CFG batch of 3 (B0 = 1) over 10240 tokens, with random
full-size bf16 weights (no download). Exits with a message where CUDA is missing.

    .venv/bin/python benchmarks/dit_gpu.py [--steps 5] [--backend auto] [--strict-parity]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass

import torch
from dit_flops import AUDIO_TOKENS, TEXT_LEN, count_forward
from torch import Tensor

from xdub.model.attention import available_backends
from xdub.model.dit import TextContext, XDubDiT, build_dit

GIB = 2**30


@dataclass(frozen=True)
class StepInputs:
    """One CFG-merged call: latents (1,...), ref (3,...) = [0, ref, ref], audio [0, 0, a]."""

    latents: Tensor
    ref3: Tensor
    audio3: Tensor
    text: TextContext


def make_inputs(
    model: XDubDiT, latent_shape: tuple[int, int, int], *, cache_text_kv: bool
) -> StepInputs:
    """Random bf16 inputs of the production shapes on the model's device."""
    cfg = model.config
    device, dtype = model.patch_embedding.weight.device, model.patch_embedding.weight.dtype
    f, h, w = latent_shape
    gen = torch.Generator(device).manual_seed(0)

    def randn(*shape: int) -> Tensor:
        return torch.randn(shape, generator=gen, device=device, dtype=dtype)

    ref, audio = randn(1, cfg.in_dim, f, h, w), randn(1, f, AUDIO_TOKENS, cfg.audio.in_dim)
    with torch.no_grad():
        text = model.prepare_text(randn(1, TEXT_LEN, cfg.text_dim), cache_kv=cache_text_kv)
    return StepInputs(
        latents=randn(1, cfg.in_dim, f, h, w),
        ref3=torch.cat([torch.zeros_like(ref), ref, ref]),
        audio3=torch.cat([torch.zeros_like(audio), torch.zeros_like(audio), audio]),
        text=text,
    )


def time_steps(model: XDubDiT, inputs: StepInputs, *, warmup: int, steps: int) -> list[float]:
    """Wall seconds of each timed step (after ``warmup`` untimed ones), synchronised."""
    device = inputs.latents.device
    timesteps = torch.linspace(999.0, 50.0, warmup + steps, device=device)
    seconds = []
    with torch.no_grad():
        for i, t in enumerate(timesteps):
            torch.cuda.synchronize(device)
            start = time.perf_counter()
            model(inputs.latents, t[None], inputs.ref3, inputs.text, inputs.audio3)
            torch.cuda.synchronize(device)
            if i >= warmup:
                seconds.append(time.perf_counter() - start)
    return seconds


def step_flops(latent_shape: tuple[int, int, int], *, cache_text_kv: bool) -> int:
    """FLOPs of one CFG-batch step, counted on a meta copy of the model."""
    meta_model = build_dit("x-dub", device="meta", dtype=torch.bfloat16)
    context = torch.empty(
        1, TEXT_LEN, meta_model.config.text_dim, device="meta", dtype=torch.bfloat16
    )
    with torch.no_grad():
        text = meta_model.prepare_text(context, cache_kv=cache_text_kv)
    return count_forward(meta_model, 3, latent_shape, text).get_total_flops()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="timed steps")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--latent-frames", type=int, default=20)
    parser.add_argument("--latent-size", type=int, default=32)
    parser.add_argument("--backend", default="auto", choices=["auto", "sdpa", "flash", "sage"])
    parser.add_argument("--strict-parity", action="store_true", help="complex128 RoPE")
    parser.add_argument("--no-text-cache", action="store_true", help="text K/V per call")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("dit_gpu.py needs a CUDA GPU; none is available here (see dit_flops.py for FLOPs).")
        return 2

    device = torch.device("cuda")
    print(
        f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}, "
        f"attention backends {available_backends()}"
    )
    model = build_dit("x-dub", device=device, dtype=torch.bfloat16).eval()
    model.strict_parity = args.strict_parity
    model.attention_backend = args.backend
    weights_gib = torch.cuda.memory_allocated(device) / GIB
    latent_shape = (args.latent_frames, args.latent_size, args.latent_size)
    inputs = make_inputs(model, latent_shape, cache_text_kv=not args.no_text_cache)
    torch.cuda.reset_peak_memory_stats(device)

    seconds = time_steps(model, inputs, warmup=args.warmup, steps=args.steps)
    mean_s = statistics.mean(seconds)
    peak_gib = torch.cuda.max_memory_allocated(device) / GIB
    reserved_gib = torch.cuda.max_memory_reserved(device) / GIB
    _, ph, pw = model.config.patch
    tokens = 2 * args.latent_frames * (args.latent_size // ph) * (args.latent_size // pw)
    print(
        f"tokens {tokens}, CFG batch 3, backend {args.backend}, "
        f"strict_parity {args.strict_parity}, text K/V cached {not args.no_text_cache}"
    )
    print(f"seconds per step: mean {mean_s:.3f}, min {min(seconds):.3f} over {len(seconds)} steps")
    step_tflop = step_flops(latent_shape, cache_text_kv=not args.no_text_cache) / 1e12
    print(f"{step_tflop:.1f} TFLOP per step -> {step_tflop / mean_s:.0f} TFLOP/s achieved")
    print(f"one clip: {30 * mean_s:.1f} s at 30 steps, {50 * mean_s:.1f} s at 50 steps")
    print(
        f"VRAM: weights {weights_gib:.2f} GiB, peak allocated {peak_gib:.2f} GiB, "
        f"peak reserved {reserved_gib:.2f} GiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
