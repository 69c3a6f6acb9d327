"""Wall time per stage and peak RSS of one take with the tiny test model on the CPU.

Each duration and mode runs in a fresh subprocess so its peak RSS is its own:

    .venv/bin/python benchmarks/pipeline_cpu.py --durations 15 60 --width 1920 --height 1080 \
        [--modes sequential overlapped low_vram]

``sequential`` runs the window stages (decode + crops, denoise, decode + paste + encode) one
after the other; ``overlapped`` (the default pipeline) runs them on threads, window k + 1's
decode and window k - 1's paste while window k denoises; ``low_vram`` is the overlapped
pipeline under the VRAM policy ``low_vram``, whose VAE decode waits for each window's
denoising (on the CPU the weight moves cost nothing, so it shows what losing that overlap costs).

The point is the shape of the numbers: the stages besides denoising cost what they cost for
the real model too (decode, landmarks at tiny width, crops, paste, encode), and peak RSS must
not grow with the clip's length, because frames are streamed and crops live in a memory map.
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

MODES = {
    "sequential": (False, "resident"),
    "overlapped": (True, "resident"),
    "low_vram": (True, "low_vram"),
}
"""Mode -> (``DubPipeline(overlap=)``, VRAM policy)."""


def run_one(duration_s: float, width: int, height: int, steps: int, mode: str) -> dict[str, object]:
    """Make media and a tiny model in a temp dir, dub once, return timings and peak RSS."""
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
    from xdub.weights.tiny import make_tiny_folder

    overlap, policy = MODES[mode]

    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        clip, dialogue = root / "clip.mp4", root / "dialogue.wav"
        started = time.perf_counter()
        spec = SyntheticVideoSpec(width=width, height=height, duration_s=duration_s, seed=1)
        write_synthetic_video(clip, spec)
        write_synthetic_audio(dialogue, SpeechTrack.generate(duration_s, seed=2), AudioSpec())
        media_s = time.perf_counter() - started
        make_tiny_folder(root / "model")
        pipeline = DubPipeline(
            root / "model",
            device="cpu",
            precision="fp32",
            overlap=overlap,
            vram_policy=VramPolicy(policy),
        )
        rss_before_take_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        stages: dict[str, float] = {}
        last = {"stage": "", "at": time.perf_counter()}

        def on_progress(progress: object) -> None:
            stage = progress.stage.value  # type: ignore[attr-defined]
            if stage != last["stage"]:
                now = time.perf_counter()
                if last["stage"]:
                    stages[str(last["stage"])] = round(now - float(last["at"]), 2)
                last.update(stage=stage, at=now)

        take_started = time.perf_counter()
        result = pipeline.run(
            clip,
            dialogue,
            root / "take.mp4",
            DubOptions(codec=Codec.H264, num_steps=steps),
            on_progress=on_progress,
        )
        stages[str(last["stage"])] = round(time.perf_counter() - float(last["at"]), 2)
        return {
            "mode": mode,
            "duration_s": duration_s,
            "size": f"{width}x{height}",
            "frames": result.num_frames,
            "windows": result.num_windows,
            "steps": steps,
            "make_media_s": round(media_s, 1),
            "take_s": round(time.perf_counter() - take_started, 1),
            "stages_s": stages,
            "peak_rss_after_load_mb": round(rss_before_take_mb),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--durations", type=float, nargs="+", default=[15.0, 60.0])
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=["overlapped"])
    parser.add_argument("--one", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        (mode,) = args.modes
        print(json.dumps(run_one(args.one, args.width, args.height, args.steps, mode)))
        return
    for duration_s in args.durations:
        for mode in args.modes:
            command = [sys.executable, __file__, "--one", str(duration_s), "--width",
                       str(args.width), "--height", str(args.height), "--steps", str(args.steps),
                       "--modes", mode]  # fmt: skip
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            print(output.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
