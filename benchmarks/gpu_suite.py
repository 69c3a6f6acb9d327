"""The speed suite for one GPU session: every speed mode of the DiT, in one run under 8 minutes.

Random full-size bf16 weights (no download). Each row times denoising steps (one CFG-batched
guided call each) of one speed setting: quality exact/fast and preset final/draft, under the
VRAM policies resident/offload/low_vram, with the attention backends and compile on/off. A row
reports seconds per step, DiT seconds per video-second (steps per 77-frame window / 2.88 s),
seconds to bring the weights onto the GPU for the stage, the first call (compile) and peak
VRAM; a row that cannot run says why. Step caching is off in the timings: what it skips depends
on real content, which random weights are not. Writes ``gpu_suite.md`` and ``gpu_suite.json``.

    .venv/bin/python benchmarks/gpu_suite.py --out DIR            # on a CUDA GPU (< 8 min)
    .venv/bin/python benchmarks/gpu_suite.py --dry-run --out DIR  # tiny model on the CPU

The dry run (tests/benchmarks/test_gpu_suite.py) runs every row's code path that needs no CUDA
at tiny size, with dynamo's ``eager`` backend standing in for inductor.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from dit_flops import AUDIO_TOKENS, TEXT_LEN

from xdub.media.fps import MODEL_FPS
from xdub.model.attention import AttentionBackend, available_backends
from xdub.model.dit import TextContextBuffers, XDubDiT, build_dit
from xdub.protocol.records import Preset, Quality, VramPolicy
from xdub.sample.denoise import GuidedVelocity
from xdub.sample.guidance import GuidanceScales
from xdub.sample.windows import WindowPlan
from xdub.speed.compile import compile_blocks, uncompile_blocks
from xdub.speed.fp8 import Fp8Weights
from xdub.speed.plan import SpeedPlan, plan_speed
from xdub.weights.residency import Residency

GIB = 2**30
FULL_CROP_PX = 512
TINY_CROP_PX = 64
TINY_LATENT_FRAMES = 3
DEFAULT_BUDGET_S = 420.0
"""Rows stop starting after this many seconds, so the suite ends inside 8 minutes."""


@dataclass(frozen=True)
class Case:
    """One row: a speed setting to time."""

    quality: Quality = Quality.EXACT
    preset: Preset = Preset.FINAL
    policy: VramPolicy = VramPolicy.RESIDENT
    attention: AttentionBackend | None = None
    """None: the plan's choice (auto, or sage in fast mode where installed)."""
    compile: bool = False
    cuda_graphs: bool = False

    @property
    def name(self) -> str:
        mode = "draft" if self.preset is Preset.DRAFT else self.quality.value
        parts = [mode, self.policy.value]
        parts.append(self.attention or "plan-attn")
        parts.append(
            "compile+graphs" if self.cuda_graphs else "compile" if self.compile else "eager"
        )
        return " / ".join(parts)


CASES = [
    # Most telling first: the suite stops starting rows when its budget is spent.
    Case(attention="sdpa"),
    Case(attention="sdpa", compile=True),
    Case(Quality.FAST),
    Case(Quality.FAST, compile=True),
    Case(preset=Preset.DRAFT),
    Case(preset=Preset.DRAFT, compile=True),
    Case(attention="flash"),
    Case(attention="sage"),
    Case(attention="auto", compile=True, cuda_graphs=True),
    Case(policy=VramPolicy.OFFLOAD, attention="sdpa"),
    Case(policy=VramPolicy.LOW_VRAM, attention="sdpa"),
    Case(Quality.FAST, policy=VramPolicy.OFFLOAD),
    Case(Quality.FAST, policy=VramPolicy.LOW_VRAM),
    Case(preset=Preset.DRAFT, policy=VramPolicy.LOW_VRAM),
]


@dataclass
class Row:
    """One measured row (seconds; GiB; None where not measured)."""

    case: str
    status: str = "ok"
    fp8: bool = False
    attention: str = ""
    compile: str = "eager"
    num_steps: int = 0
    crop_px: int = 0
    upload_s: float | None = None
    first_call_s: float | None = None
    s_per_step: float | None = None
    dit_s_per_video_s: float | None = None
    peak_vram_gib: float | None = None
    rel_err_vs_exact: float | None = None
    """Relative L2 of the last step's guided velocity against the first row's (same inputs and
    timesteps; rows at the final crop only): what the row's switches change numerically."""
    notes: list[str] = field(default_factory=list)


@dataclass
class Bench:
    """The model and what every row shares."""

    model: XDubDiT
    text: TextContextBuffers
    residency: Residency
    device: torch.device
    dtype: torch.dtype
    crop_px: int
    latent_frames: int
    compile_backend: str
    warmup: int
    steps: int
    exact_output: torch.Tensor | None = None
    """The first row's last guided velocity: the reference of ``rel_err_vs_exact``."""


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextmanager
def _timed(device: torch.device, seconds: list[float]) -> Iterator[None]:
    _sync(device)
    start = time.perf_counter()
    yield
    _sync(device)
    seconds.append(time.perf_counter() - start)


def _velocity(bench: Bench, plan: SpeedPlan) -> tuple[GuidedVelocity, torch.Tensor]:
    """A guided velocity of random production-shaped inputs at the plan's crop size."""
    cfg, device, dtype = bench.model.config, bench.device, bench.dtype
    size = plan.crop_size // 16
    gen = torch.Generator(device).manual_seed(0)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(shape, generator=gen, device=device, dtype=dtype)

    ref = randn(1, cfg.in_dim, bench.latent_frames, size, size)
    audio = randn(1, bench.latent_frames, AUDIO_TOKENS, cfg.audio.in_dim)
    velocity = GuidedVelocity(
        bench.model,
        ref,
        audio,
        bench.text.context,
        GuidanceScales(),
        num_motion_latents=0,
        reuse=plan.guidance_reuse,
    )
    return velocity, randn(1, cfg.in_dim, bench.latent_frames, size, size)


def run_case(bench: Bench, case: Case) -> Row:
    """Time one case; leaves the model as it found it (eager, bf16, resident policy)."""
    row = Row(case.name)
    warnings: list[str] = []
    plan = plan_speed(
        quality=case.quality,
        preset=case.preset,
        num_steps=30,
        crop_size=bench.crop_px,
        device=bench.device,
        vram_policy=case.policy,
        warnings=warnings,
    )
    row.notes += warnings
    row.fp8, row.num_steps, row.crop_px = plan.fp8, plan.num_steps, plan.crop_size
    attention = case.attention or plan.attention
    row.attention = attention
    if attention in ("flash", "sage") and attention not in available_backends():
        row.status = f"skipped: {attention} is not installed"
        return row
    if attention in ("flash", "sage") and bench.device.type != "cuda":
        row.status = f"skipped: {attention} needs CUDA"
        return row
    model, device = bench.model, bench.device
    fp8: Fp8Weights | None = None
    compiled = None
    bench.residency.set_policy(case.policy)
    try:
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        upload: list[float] = []
        with _timed(device, upload), bench.residency.stage("dit"):
            pass
        row.upload_s = upload[0]
        with bench.residency.stage("dit"):
            if plan.fp8:
                fp8 = Fp8Weights(model)
            model.attention_backend = attention
            if case.compile:
                compiled = compile_blocks(
                    model, cuda_graphs=case.cuda_graphs, backend=bench.compile_backend
                )
            velocity, latents = _velocity(bench, plan)
            row.s_per_step, row.first_call_s, output = _time_steps(bench, velocity, latents)
            if plan.crop_size == bench.crop_px:
                if bench.exact_output is None:
                    bench.exact_output = output
                reference = bench.exact_output.float()
                row.rel_err_vs_exact = float((output.float() - reference).norm() / reference.norm())
            if compiled is not None:
                row.compile = compiled.status + (" + CUDA graphs" if compiled.cuda_graphs else "")
                row.notes += [compiled.reason] if compiled.reason else []
        window_s = WindowPlan().stride / float(MODEL_FPS)
        row.dit_s_per_video_s = row.s_per_step * plan.num_steps / window_s
        if device.type == "cuda":
            row.peak_vram_gib = torch.cuda.max_memory_allocated(device) / GIB
    except Exception as error:  # a row that cannot run is a result, not the end of the suite
        row.status = f"error: {type(error).__name__}: {str(error).splitlines()[0][:200]}"
        traceback.print_exc(file=sys.stderr)
    finally:
        if compiled is not None:
            uncompile_blocks(model, compiled)
            torch._dynamo.reset()
        if fp8 is not None:
            fp8.remove()
        model.attention_backend = "sdpa"
        bench.residency.release()
    return row


def _time_steps(
    bench: Bench, velocity: GuidedVelocity, latents: torch.Tensor
) -> tuple[float, float, torch.Tensor]:
    """(mean seconds per timed step, seconds of the first call, the last call's output)."""
    calls = bench.warmup + bench.steps
    timesteps = torch.linspace(999.0, 50.0, calls, device=bench.device).to(bench.dtype)
    seconds: list[float] = []
    with torch.no_grad():
        for t in timesteps:
            with _timed(bench.device, seconds):
                output = velocity(latents, t[None])
    return statistics.mean(seconds[bench.warmup :]), seconds[0], output.clone()


def markdown(rows: list[Row], environment: dict[str, Any]) -> str:
    """The rows as a Markdown table, with the environment above it."""
    lines = [f"# gpu_suite: {environment['device']}", ""]
    lines += [f"- {key}: {value}" for key, value in environment.items()]
    columns = ["case", "status", "fp8", "attention", "compile", "steps", "crop px", "upload s"]
    columns += ["first call s", "s/step", "DiT s per video-s", "peak VRAM GiB", "rel err vs exact"]
    lines += ["", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]

    def num(value: float | None) -> str:
        return "" if value is None else f"{value:.3f}"

    for row in rows:
        lines.append(
            f"| {row.case} | {row.status} | {row.fp8} | {row.attention} | {row.compile} | "
            f"{row.num_steps} | {row.crop_px} | {num(row.upload_s)} | {num(row.first_call_s)} | "
            f"{num(row.s_per_step)} | {num(row.dit_s_per_video_s)} | {num(row.peak_vram_gib)} | "
            f"{'' if row.rel_err_vs_exact is None else f'{row.rel_err_vs_exact:.2e}'} |"
        )
    notes = sorted({note for row in rows for note in row.notes})
    return "\n".join([*lines, "", *(f"- note: {note}" for note in notes), ""])


def make_bench(args: argparse.Namespace) -> Bench:
    if args.dry_run:
        device, dtype, variant = torch.device("cpu"), torch.float32, "tiny"
        crop_px, latent_frames = TINY_CROP_PX, TINY_LATENT_FRAMES
    else:
        device, dtype, variant = torch.device("cuda"), torch.bfloat16, "x-dub"
        crop_px, latent_frames = FULL_CROP_PX, WindowPlan().clip_latent_frames
    model = build_dit(variant, device=device, dtype=dtype).eval()
    gen = torch.Generator(device).manual_seed(1)
    context = torch.randn(
        1, TEXT_LEN, model.config.text_dim, generator=gen, device=device, dtype=dtype
    )
    with torch.no_grad():
        text = TextContextBuffers(model.prepare_text(context, cache_kv=True))
    residency = Residency({"dit": (model, text)}, device, streamed=tuple(model.blocks))
    return Bench(
        model,
        text,
        residency,
        device,
        dtype,
        crop_px,
        latent_frames,
        compile_backend="eager" if args.dry_run else "inductor",
        warmup=args.warmup,
        steps=args.steps,
    )


def run_suite(args: argparse.Namespace, log: Callable[[str], None] = print) -> list[Row]:
    bench = make_bench(args)
    started = time.perf_counter()
    rows = []
    for case in CASES:
        if time.perf_counter() - started > args.budget_s:
            rows.append(Row(case.name, status="skipped: time budget spent"))
            continue
        row = run_case(bench, case)
        log(f"{time.perf_counter() - started:7.1f} s  {row.case}: {row.status} {row.s_per_step}")
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("."), help="folder for .md and .json")
    parser.add_argument("--dry-run", action="store_true", help="tiny model on the CPU")
    parser.add_argument("--steps", type=int, default=2, help="timed steps per row")
    parser.add_argument("--warmup", type=int, default=2, help="untimed first calls per row")
    parser.add_argument("--budget-s", type=float, default=DEFAULT_BUDGET_S)
    args = parser.parse_args(argv)
    if not args.dry_run and not torch.cuda.is_available():
        print("gpu_suite.py needs a CUDA GPU (or --dry-run for the tiny CPU run).")
        return 2
    device_name = "cpu (dry run, tiny model)"
    if not args.dry_run:
        device_name = torch.cuda.get_device_name(0)
    environment = {
        "device": device_name,
        "torch": torch.__version__,
        "attention backends": available_backends(),
        "timed steps per row": args.steps,
    }
    rows = run_suite(args)
    args.out.mkdir(parents=True, exist_ok=True)
    report = {"environment": environment, "rows": [asdict(row) for row in rows]}
    (args.out / "gpu_suite.json").write_text(json.dumps(report, indent=2))
    (args.out / "gpu_suite.md").write_text(markdown(rows, environment))
    print(markdown(rows, environment))
    return 0


if __name__ == "__main__":
    sys.exit(main())
