"""Peak GPU memory, load time and take time of one take under each VRAM policy.

Each policy runs in a fresh subprocess, so its peaks are its own:

    .venv/bin/python benchmarks/vram_policy.py --model ~/.local/share/xdub/models --device cuda
    .venv/bin/python benchmarks/vram_policy.py --tiny            # the code path, on any machine

With ``--tiny`` a tiny random test model is generated first (numbers then show the policies'
overhead, not the released model's memory). On the CPU "peak GPU memory" is not measured.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_one(
    model: Path, device: str, policy: str, duration_s: float, steps: int
) -> dict[str, object]:
    """Load the pipeline under ``policy``, dub one generated clip, return the figures."""
    import torch

    from xdub.job.options import Codec, DubOptions
    from xdub.media.synthetic import (
        AudioSpec,
        SpeechTrack,
        SyntheticVideoSpec,
        write_synthetic_audio,
        write_synthetic_video,
    )
    from xdub.pipeline import DubPipeline
    from xdub.protocol.records import VramPolicy

    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        clip, dialogue = root / "clip.mp4", root / "dialogue.wav"
        write_synthetic_video(
            clip, SyntheticVideoSpec(width=640, height=360, duration_s=duration_s)
        )
        write_synthetic_audio(dialogue, SpeechTrack.generate(duration_s, seed=1), AudioSpec())
        started = time.perf_counter()
        pipeline = DubPipeline(model, device=device, vram_policy=VramPolicy(policy))
        loaded = time.perf_counter()
        is_cuda = pipeline.models.device.type == "cuda"
        idle_gib = _gib(torch.cuda.memory_allocated()) if is_cuda else None
        if is_cuda:
            torch.cuda.reset_peak_memory_stats()
        pipeline.run(
            clip, dialogue, root / "take.mp4", DubOptions(codec=Codec.H264, num_steps=steps)
        )
        done = time.perf_counter()
        return {
            "policy": policy,
            "device": str(pipeline.models.device),
            "load_s": round(loaded - started, 2),
            "take_s": round(done - loaded, 2),
            "gpu_idle_gib": idle_gib,
            "gpu_peak_gib": _gib(torch.cuda.max_memory_allocated()) if is_cuda else None,
            "gpu_after_take_gib": _gib(torch.cuda.memory_allocated()) if is_cuda else None,
            "peak_rss_gib": _gib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024),
        }


def _gib(num_bytes: int) -> float:
    return round(num_bytes / 2**30, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", type=Path, help="a model folder")
    source.add_argument("--tiny", action="store_true", help="generate a tiny test model")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--duration", type=float, default=3.0, help="clip length in seconds")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--policies", nargs="+", default=["resident", "offload", "low_vram"])
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.model, args.device, args.one, args.duration, args.steps)))
        return
    with tempfile.TemporaryDirectory() as work:
        model = args.model
        if args.tiny:
            from xdub.weights.tiny import make_tiny_folder

            model = make_tiny_folder(Path(work) / "tiny").root
        for policy in args.policies:
            command = [sys.executable, __file__, "--model", str(model), "--one", policy]
            command += ["--device", args.device, "--duration", str(args.duration)]
            command += ["--steps", str(args.steps)]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            print(output.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
