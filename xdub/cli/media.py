"""``xdub media``: make synthetic test media, and inspect media files.

xdub media sample OUT.mp4 [--width --height --fps --duration-s --codec h264|prores --rotate
                           --vfr --two-faces --seed --silent --timecode --mux-audio
                           --audio OUT.wav --sample-rate --channels --truth OUT.json]
xdub media probe FILE
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``media`` command group to the top-level ``subparsers``."""
    media = subparsers.add_parser("media", help="synthetic test media and media inspection")
    commands = media.add_subparsers(dest="media_command", metavar="MEDIA_COMMAND", required=True)

    sample = commands.add_parser(
        "sample",
        help="write a synthetic talking-face clip (and its speech) for testing",
        description="Write a seeded cartoon-face clip whose mouth follows synthetic speech.",
    )
    sample.add_argument("out", type=Path, help="video to write (.mp4 for h264, .mov for prores)")
    sample.add_argument("--width", type=int, default=160, help="display width in px (even)")
    sample.add_argument("--height", type=int, default=96, help="display height in px (even)")
    sample.add_argument("--fps", default="25", help="23.976, 24, 25, 29.97, 30, 50, 60 or a/b")
    sample.add_argument("--duration-s", type=float, default=2.0, help="clip length in seconds")
    sample.add_argument("--codec", choices=("h264", "prores"), default="h264")
    sample.add_argument(
        "--rotate",
        type=int,
        choices=(0, 90, -90, 180, 270),
        default=0,
        help="display rotation metadata in degrees counter-clockwise (phones: -90)",
    )
    sample.add_argument("--vfr", action="store_true", help="irregular frame times (phone-like)")
    sample.add_argument("--two-faces", action="store_true", help="add a smaller, silent face")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--silent", action="store_true", help="silence instead of speech")
    sample.add_argument("--timecode", help="start timecode to store, e.g. 01:00:00:00")
    sample.add_argument("--mux-audio", action="store_true", help="mux the speech as AAC")
    sample.add_argument("--audio", type=Path, help="also write the speech to .wav or .m4a")
    sample.add_argument("--sample-rate", type=int, default=16000, help="audio rate in Hz")
    sample.add_argument("--channels", type=int, default=1, help="audio channel count")
    sample.add_argument("--truth", type=Path, help="write per-frame face geometry as JSON")
    sample.set_defaults(handler=run_sample)

    probe = commands.add_parser("probe", help="print what xdub reads from a media file, as JSON")
    probe.add_argument("path", type=Path)
    probe.set_defaults(handler=run_probe)


def run_sample(args: argparse.Namespace) -> int:
    """Handler of ``xdub media sample``."""
    from xdub.media.fps import parse_fps
    from xdub.media.orientation import normalize_rotation
    from xdub.media.synthetic import (
        AudioSpec,
        SyntheticVideoSpec,
        write_synthetic_audio,
        write_synthetic_video,
    )

    audio = AudioSpec(sample_rate_hz=args.sample_rate, num_channels=args.channels)
    spec = SyntheticVideoSpec(
        width=args.width,
        height=args.height,
        fps=parse_fps(args.fps),
        duration_s=args.duration_s,
        codec=args.codec,
        rotation_deg=normalize_rotation(args.rotate),
        is_vfr=args.vfr,
        num_faces=2 if args.two_faces else 1,
        seed=args.seed,
        is_silent=args.silent,
        timecode=args.timecode,
        audio=audio if args.mux_audio else None,
    )
    clip = write_synthetic_video(args.out, spec)
    print(f"wrote {clip.path}: {clip.num_frames} frames, {clip.duration_s:.3f} s")
    if args.audio:
        write_synthetic_audio(args.audio, spec.speech(), audio)
        print(f"wrote {args.audio}: {audio.sample_rate_hz} Hz, {audio.num_channels} channel(s)")
    if args.truth:
        clip.save_truth(args.truth)
        print(f"wrote {args.truth}")
    return 0


def run_probe(args: argparse.Namespace) -> int:
    """Handler of ``xdub media probe``."""
    from xdub.media.probe import probe

    info = asdict(probe(args.path))
    print(json.dumps(info, indent=2, default=str))
    return 0
