"""``xdub dub VIDEO AUDIO -o OUT``: dub one clip with new dialogue, with a progress bar."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from xdub.face.speaker import SpeakerRule
from xdub.media.codecs import VIDEO_CODECS


def register(subparsers: Any) -> None:
    """Add ``dub`` to the top-level ``subparsers``."""
    dub = subparsers.add_parser(
        "dub",
        help="dub a clip: the lips follow AUDIO, everything else stays",
        description="Dub VIDEO with the dialogue in AUDIO and write the take to OUT. The take "
        "has the clip's frame rate, size, timecode and length; shorter dialogue is padded with "
        "silence, longer dialogue is cut (with a warning).",
    )
    dub.add_argument("video", type=Path, help="the clip to dub (any format PyAV reads)")
    dub.add_argument("audio", type=Path, help="the replacement dialogue (audio or video file)")
    dub.add_argument("-o", "--output", type=Path, required=True, help="the take to write")
    dub.add_argument("--model", type=Path, help="model folder (default: the installed one)")
    dub.add_argument("--steps", type=int, default=30, help="denoising steps (25-50 advised)")
    dub.add_argument("--seed", type=int, default=42, help="noise seed")
    dub.add_argument("--ref-guidance", type=float, default=2.5, help="identity guidance")
    dub.add_argument("--audio-guidance", type=float, default=10.0, help="lip-sync guidance")
    dub.add_argument("--independent-noise", action="store_true", help="new noise for every window")
    dub.add_argument("--codec", choices=sorted(VIDEO_CODECS), default="h264")
    dub.add_argument("--crf", type=int, default=16, help="H.264 quality (lower is better)")
    dub.add_argument(
        "--speaker",
        choices=[rule.value for rule in SpeakerRule if rule is not SpeakerRule.PICKED],
        default=SpeakerRule.LARGEST.value,
        help="whom to dub when several people are in the shot",
    )
    dub.add_argument("--device", default="auto", help="auto, cuda, cuda:1, mps or cpu")
    dub.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto")
    dub.set_defaults(handler=run_dub)


def run_dub(args: argparse.Namespace) -> int:
    """Handler of ``xdub dub``."""
    from xdub.cli.progress_bar import ProgressBar
    from xdub.face.speaker import SpeakerChoice
    from xdub.media.codecs import TakeSettings
    from xdub.options import DubOptions
    from xdub.paths import default_model_dir
    from xdub.pipeline import DubPipeline

    options = DubOptions(
        num_steps=args.steps,
        seed=args.seed,
        ref_guidance=args.ref_guidance,
        audio_guidance=args.audio_guidance,
        independent_noise=args.independent_noise,
        take=TakeSettings(codec=args.codec, crf=args.crf),
        speaker=SpeakerChoice(rule=SpeakerRule(args.speaker)),
    )
    model_dir = args.model or default_model_dir()
    pipeline = DubPipeline(model_dir, device=args.device, precision=args.precision)
    if pipeline.models.is_test_weights:
        print(
            f"note: {model_dir} holds TINY RANDOM TEST WEIGHTS: the take exercises the whole "
            "pipeline but its faces are noise, not a dub",
            file=sys.stderr,
        )
    bar = ProgressBar()
    try:
        result = pipeline.run(args.video, args.audio, args.output, options, on_progress=bar)
    finally:
        bar.close()
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"wrote {result.output} ({result.num_frames} frames, {result.num_windows} windows)")
    return 0
