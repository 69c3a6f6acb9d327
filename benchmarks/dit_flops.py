"""FLOPs and parameters of the full-size X-Dub DiT, counted on the meta device (no memory).

Counts one pass (one CFG branch), one denoising step (the CFG batch of 3) and one 77-frame clip
(N steps) with ``torch.utils.flop_counter.FlopCounterMode``, and compares the pass with the
reference estimate of 129.3 TFLOP (xdub-reference.md §4.2, perf.md §1.1).

    .venv/bin/python benchmarks/dit_flops.py [--latent-frames 20] [--latent-size 32]
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict

import torch
from torch.utils.flop_counter import FlopCounterMode

from xdub.model.dit import build_dit
from xdub.protocol.records import Preset
from xdub.speed.flops import AUDIO_TOKENS, TEXT_LEN, count_forward, preset_cost
from xdub.speed.plan import plan_speed

__all__ = ["AUDIO_TOKENS", "TEXT_LEN", "count_forward"]  # dit_gpu.py and gpu_suite.py use them
REFERENCE_PASS_TFLOP = 129.3  # perf.md §1.1: 30 layers x 4.31 TFLOP at 10240 tokens
_FAMILY = re.compile(r"\.(self_attn|cross_attn|audio_attn|ffn|audio_embedding)\.")


def _families(counter: FlopCounterMode) -> dict[str, float]:
    """Linear/conv FLOPs of leaf modules by family, plus the attention core (all bmm)."""
    counts = counter.get_flop_counts()
    leaves = [k for k in counts if k != "Global" and not any(o.startswith(k + ".") for o in counts)]
    out: dict[str, float] = defaultdict(float)
    for name in leaves:
        match = _FAMILY.search(name + ".")
        family = match.group(1) if match else "other (embeddings, head)"
        out[f"{family} linear"] += sum(counts[name].values())
    out["attention core (QK^T, PV)"] = sum(
        v for op, v in counts["Global"].items() if "bmm" in str(op) or "attention" in str(op)
    )
    return dict(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latent-frames", type=int, default=20, help="20 for 77 video frames")
    parser.add_argument("--latent-size", type=int, default=32, help="32 for a 512x512 crop")
    parser.add_argument("--steps", type=int, nargs="+", default=[30, 50])
    args = parser.parse_args()

    model = build_dit("x-dub", device="meta", dtype=torch.bfloat16)
    cfg = model.config
    _, ph, pw = cfg.patch
    latent_shape = (args.latent_frames, args.latent_size, args.latent_size)
    grid = (args.latent_frames, args.latent_size // ph, args.latent_size // pw)
    tokens = 2 * grid[0] * grid[1] * grid[2]
    raw_context = torch.empty(1, TEXT_LEN, cfg.text_dim, device="meta", dtype=torch.bfloat16)
    with torch.no_grad():
        prepared = model.prepare_text(raw_context, cache_kv=True)

    params = sum(t.numel() for t in model.state_dict().values())
    print(f"parameters (incl. {cfg.audio.num_layers} pe buffers): {params / 1e9:.4f} B")
    print(f"sequence: {tokens} tokens ({tokens // 2} ref + {tokens // 2} target), grid {grid}")

    one_pass = count_forward(model, 1, latent_shape, raw_context)
    pass_tflop = one_pass.get_total_flops() / 1e12
    print(f"\none pass, 1 CFG branch, raw text context: {pass_tflop:.2f} TFLOP")
    ratio = pass_tflop / REFERENCE_PASS_TFLOP
    print(f"  reference estimate {REFERENCE_PASS_TFLOP} TFLOP -> ratio {ratio:.4f}")
    for family, flops in sorted(_families(one_pass).items(), key=lambda kv: -kv[1]):
        print(f"  {family:32s} {flops / 1e12:8.2f} TFLOP")

    step_raw = count_forward(model, 3, latent_shape, raw_context).get_total_flops() / 1e12
    step = count_forward(model, 3, latent_shape, prepared).get_total_flops() / 1e12
    # What the reference adds per step: time MLP + projection for every token (before the
    # CFG repeat), where this model runs it for 2 rows.
    d = cfg.dim
    per_token_time = 2 * tokens * (cfg.freq_dim * d + d * d + d * 6 * d) / 1e12
    print(f"\none step, CFG batch of 3: {step:.2f} TFLOP with cached text K/V "
          f"({step_raw:.2f} TFLOP embedding the raw context each call)")  # fmt: skip
    print(
        f"  per-token time MLP the reference also runs: {per_token_time:.2f} TFLOP (not done here)"
    )
    for num_steps in args.steps:
        print(f"one clip, {num_steps} steps: {num_steps * step / 1e3:.2f} PFLOP")
    print()
    print(preset_table(model))


def preset_table(model: torch.nn.Module) -> str:
    """Markdown: DiT FLOPs per video-second of the final and draft presets at 512 px."""
    rows = ["| preset | steps | crop px | TFLOP/pass | PFLOP/window | PFLOP/video-s | vs final |"]
    rows.append("|---|---|---|---|---|---|---|")
    final_cost = None
    for preset in Preset:
        plan = plan_speed(
            quality="exact", preset=preset, num_steps=30, crop_size=512, device=torch.device("cpu")
        )
        cost = preset_cost(model, plan)  # type: ignore[arg-type]
        final_cost = final_cost or cost.video_second_flops
        rows.append(
            f"| {preset.value} | {plan.num_steps} | {plan.crop_size} | {cost.pass_flops / 1e12:.1f}"
            f" | {cost.window_flops / 1e15:.2f} | {cost.video_second_flops / 1e15:.3f}"
            f" | {final_cost / cost.video_second_flops:.2f}x fewer |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    main()
