"""The options of one take (``DubOptions``) as command-line options, for ``xdub dub`` and
``xdub submit``: one definition, so a take dubbed here and one queued on the daemon are asked
for with the same words. Torch-free, so ``--help`` stays fast."""

from __future__ import annotations

import argparse

from xdub.protocol.records import (
    GUIDANCE_REUSE_BRANCHES,
    Codec,
    DubOptions,
    MissingFace,
    Preset,
    Quality,
    Speaker,
)

DEFAULTS = DubOptions()
FP8_CHOICES = {"auto": None, "on": True, "off": False}


def add_option_arguments(
    parser: argparse.ArgumentParser, *, codec_default: Codec, seed_default: int | None
) -> None:
    """Add the ``DubOptions`` fields as options. The CLI writes H.264 by default where the
    take is a file the user names (``xdub dub -o take.mp4``); ``seed_default`` None: random."""
    parser.add_argument(
        "--codec", choices=[codec.value for codec in Codec], default=codec_default.value
    )
    parser.add_argument(
        "--steps", type=int, default=DEFAULTS.num_steps, help="denoising steps (25-50 advised)"
    )
    seed_help = "random, recorded in the job" if seed_default is None else seed_default
    parser.add_argument(
        "--seed", type=int, default=seed_default, help=f"noise seed (default: {seed_help})"
    )
    parser.add_argument(
        "--ref-cfg-scale",
        "--ref-guidance",
        type=float,
        default=DEFAULTS.ref_cfg_scale,
        help="identity guidance",
    )
    parser.add_argument(
        "--audio-cfg-scale",
        "--audio-guidance",
        type=float,
        default=DEFAULTS.audio_cfg_scale,
        help="lip-sync guidance",
    )
    parser.add_argument(
        "--independent-noise", action="store_true", help="new noise for every window"
    )
    parser.add_argument(
        "--crf", type=int, default=DEFAULTS.crf, help="H.264 quality (lower is better)"
    )
    parser.add_argument(
        "--speaker",
        choices=[speaker.value for speaker in Speaker],
        default=DEFAULTS.speaker.value,
        help="whom to dub when several people are in the shot (point: see --speaker-xy)",
    )
    parser.add_argument(
        "--speaker-xy",
        type=float,
        nargs=2,
        metavar=("X", "Y"),
        help="with --speaker point: the speaker's position, 0-1 of the first frame's size",
    )
    parser.add_argument(
        "--missing-face",
        choices=[choice.value for choice in MissingFace],
        default=DEFAULTS.missing_face.value,
        help="where the speaker's face is not found: refuse the take, or leave those frames",
    )
    speed = parser.add_argument_group("speed (see xdub.speed.plan)")
    speed.add_argument(
        "--quality",
        choices=[quality.value for quality in Quality],
        default=DEFAULTS.quality.value,
        help="exact: the reference's numbers; fast: FP8, SageAttention, step caching (lossy)",
    )
    speed.add_argument(
        "--preset",
        choices=[preset.value for preset in Preset],
        default=DEFAULTS.preset.value,
        help="draft: fewer steps, a smaller crop and fast quality, for auditioning",
    )
    speed.add_argument(
        "--fp8",
        choices=FP8_CHOICES,
        default="auto",
        help="FP8 linears (fast quality): auto where the GPU has them",
    )
    speed.add_argument(
        "--step-cache-threshold", type=float, help="0-10, 0 off (default: the quality's)"
    )
    speed.add_argument(
        "--guidance-reuse-period",
        type=int,
        default=DEFAULTS.guidance_reuse_period,
        help="k > 1: the reused CFG branch is computed every k-th DiT pass",
    )
    speed.add_argument(
        "--guidance-reuse-branch",
        choices=GUIDANCE_REUSE_BRANCHES,
        default=DEFAULTS.guidance_reuse_branch,
    )


def options_from_args(args: argparse.Namespace, *, output_dir: str | None = None) -> DubOptions:
    """The ``DubOptions`` that :func:`add_option_arguments` parsed (``bad_content`` when
    invalid)."""
    return DubOptions(
        codec=Codec(args.codec),
        num_steps=args.steps,
        ref_cfg_scale=args.ref_cfg_scale,
        audio_cfg_scale=args.audio_cfg_scale,
        seed=args.seed,
        speaker=Speaker(args.speaker),
        speaker_xy=tuple(args.speaker_xy) if args.speaker_xy else None,
        output_dir=output_dir,
        independent_noise=args.independent_noise,
        missing_face=MissingFace(args.missing_face),
        crf=args.crf,
        quality=Quality(args.quality),
        preset=Preset(args.preset),
        fp8=FP8_CHOICES[args.fp8],
        step_cache_threshold=args.step_cache_threshold,
        guidance_reuse_period=args.guidance_reuse_period,
        guidance_reuse_branch=args.guidance_reuse_branch,
    )
