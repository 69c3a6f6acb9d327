"""``xdub demo DIR``: dub a generated sample clip end to end (the README's main command).

With the real X-Dub weights installed (the default model folder verifies) it uses them;
otherwise it writes a tiny folder of random TEST weights and says so plainly: the take then
shows that every stage works, not what the model can do.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

SAMPLE_SECONDS = 4.0


def register(subparsers: Any) -> None:
    """Add ``demo`` to the top-level ``subparsers``."""
    demo = subparsers.add_parser(
        "demo",
        help="dub a generated sample clip end to end",
        description="Write a synthetic talking-face clip and new dialogue into DIR, then dub it "
        "with the installed model (or tiny test weights when none is installed).",
    )
    demo.add_argument("dir", type=Path, nargs="?", default=Path("xdub-demo"))
    demo.add_argument("--steps", type=int, default=None, help="denoising steps")
    demo.add_argument("--device", default="auto", help="auto, cuda, mps or cpu")
    demo.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """Handler of ``xdub demo``."""
    from xdub.cli.progress_bar import ProgressBar
    from xdub.job.options import Codec, DubOptions
    from xdub.media.synthetic import (
        AudioSpec,
        SpeechTrack,
        SyntheticVideoSpec,
        write_synthetic_audio,
        write_synthetic_video,
    )
    from xdub.paths import default_model_dir
    from xdub.pipeline import DubPipeline
    from xdub.weights.folder import ModelFolder
    from xdub.weights.tiny import make_tiny_folder

    out: Path = args.dir
    out.mkdir(parents=True, exist_ok=True)
    installed = ModelFolder(default_model_dir())
    if installed.root.is_dir() and not installed.verify():
        model_dir, steps = installed.root, args.steps or 30
        print(f"using the installed X-Dub model at {model_dir}")
    else:
        model_dir, steps = out / "tiny-model", args.steps or 4
        make_tiny_folder(model_dir)
        print(
            f"no X-Dub weights installed at {installed.root}: using TINY RANDOM TEST WEIGHTS "
            f"written to {model_dir}.\nThe take runs every stage of the real pipeline, but its "
            "face is noise, not a dub. Install the weights with `xdub models download`."
        )
    clip, dialogue = out / "sample-clip.mp4", out / "new-dialogue.wav"
    spec = SyntheticVideoSpec(width=320, height=240, duration_s=SAMPLE_SECONDS, seed=1)
    write_synthetic_video(clip, spec)
    write_synthetic_audio(dialogue, SpeechTrack.generate(SAMPLE_SECONDS, seed=2), AudioSpec())
    print(f"wrote the sample clip {clip} and new dialogue {dialogue}")
    pipeline = DubPipeline(model_dir, device=args.device)
    bar = ProgressBar()
    try:
        result = pipeline.run(
            clip,
            dialogue,
            out / "take.mp4",
            DubOptions(codec=Codec.H264, num_steps=steps),
            on_progress=bar,
        )
    finally:
        bar.close()
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"wrote the dubbed take {result.output} ({result.num_frames} frames)")
    return 0
