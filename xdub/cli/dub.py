"""``xdub dub VIDEO AUDIO -o OUT``: dub one clip with new dialogue, with a progress bar.

When a daemon runs (its connection file names a live process) the job goes to it: the OTIO
job is built from the whole file, its progress events drive the same bar, and the take is
copied to OUT. ``--local``, or an option the daemon's jobs cannot carry (``--model``,
``--independent-noise``, ``--crf``, ``--speaker highest_score``, ``--device``,
``--precision``, ``--vram-policy``, ``--face-backend``: the daemon has its own), dubs in this
process.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xdub.cli.pipeline_args import add_pipeline_arguments
from xdub.face.speaker import SpeakerRule
from xdub.media.codecs import VIDEO_CODECS
from xdub.protocol.records import VramPolicy

if TYPE_CHECKING:
    from xdub.protocol.records import JobOptions

DEFAULT_CRF = 16


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
    dub.add_argument("--crf", type=int, default=DEFAULT_CRF, help="H.264 quality (lower is better)")
    dub.add_argument(
        "--speaker",
        choices=[rule.value for rule in SpeakerRule if rule is not SpeakerRule.PICKED],
        default=SpeakerRule.LARGEST.value,
        help="whom to dub when several people are in the shot",
    )
    add_pipeline_arguments(dub, vram_policy_default=VramPolicy.RESIDENT.value)
    dub.add_argument(
        "--local", action="store_true", help="dub in this process even when a daemon runs"
    )
    dub.set_defaults(handler=run_dub)


def run_dub(args: argparse.Namespace) -> int:
    """Handler of ``xdub dub``: through a running daemon when there is one, else in-process."""
    if args.local:
        return run_local(args)
    if not _daemon_is_running():
        return run_local(args)
    unsupported = _daemon_unsupported(args)
    if unsupported:
        print(
            f"note: dubbing in-process: the daemon takes no {', '.join(unsupported)}",
            file=sys.stderr,
        )
        return run_local(args)
    return run_via_daemon(args)


def _daemon_is_running() -> bool:
    from xdub.errors import ProtocolError
    from xdub.protocol.connection import find_daemon

    try:
        find_daemon()
    except ProtocolError:
        return False
    return True


def _daemon_unsupported(args: argparse.Namespace) -> list[str]:
    """The given options that a daemon job cannot carry."""
    found = []
    if args.model is not None:
        found.append("--model")
    if args.independent_noise:
        found.append("--independent-noise")
    if args.crf != DEFAULT_CRF:
        found.append("--crf")
    if args.speaker != SpeakerRule.LARGEST.value:
        found.append(f"--speaker {args.speaker}")
    if args.device != "auto":
        found.append("--device")
    if args.precision != "auto":
        found.append("--precision")
    if args.vram_policy != VramPolicy.RESIDENT.value:
        found.append("--vram-policy")
    if args.face_backend != "builtin":
        found.append("--face-backend")
    return found


def _job_options(args: argparse.Namespace) -> JobOptions:
    from xdub.protocol.records import Codec, JobOptions

    return JobOptions(
        codec=Codec(args.codec),
        num_steps=args.steps,
        ref_cfg_scale=args.ref_guidance,
        audio_cfg_scale=args.audio_guidance,
        seed=args.seed,
    )


def run_via_daemon(args: argparse.Namespace) -> int:
    """Submit the whole-file job to the daemon, follow it with the bar, copy the take to -o.
    Ctrl-C cancels the job."""
    from xdub.cli.jobs import whole_file_job
    from xdub.cli.progress_bar import ProgressBar
    from xdub.client import DaemonClient
    from xdub.otio_result import parse_result
    from xdub.protocol.client import Received
    from xdub.protocol.messages import ProgressEvent
    from xdub.protocol.records import JobState

    otio_json = whole_file_job(args.video, args.audio)
    bar = ProgressBar()

    def on_event(event: Received) -> None:
        if isinstance(event.content, ProgressEvent):
            bar(event.content.progress)

    with DaemonClient() as client:
        job_id = client.submit(otio_json, _job_options(args)).job_id
        print(f"submitted job {job_id} to the running daemon (--local dubs here)", file=sys.stderr)
        try:
            job = client.wait(job_id, on_event=on_event)
        except KeyboardInterrupt:
            client.cancel(job_id)
            raise
        finally:
            bar.close()
    if job.state is not JobState.DONE or job.result_otio is None:
        error = job.error
        reason = f"[{error.code}] {error.message}" if error else job.state.value
        print(f"xdub dub: job {job_id} {job.state.value}: {reason}", file=sys.stderr)
        if error and error.hint:
            print(f"hint: {error.hint}", file=sys.stderr)
        return 1
    for warning in job.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(parse_result(job.result_otio).take_path, args.output)
    print(f"wrote {args.output} (daemon job {job_id})")
    return 0


def run_local(args: argparse.Namespace) -> int:
    """Dub in this process."""
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
    pipeline = DubPipeline(
        model_dir,
        device=args.device,
        precision=args.precision,
        vram_policy=VramPolicy(args.vram_policy),
        face_backend=args.face_backend,
    )
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
