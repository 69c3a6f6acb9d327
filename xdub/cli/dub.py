"""``xdub dub VIDEO AUDIO -o OUT``: dub one clip with new dialogue, with a progress bar.

When a daemon runs (its connection file names a live process) the job goes to it: the OTIO
job is built from the whole file, its progress events drive the same bar, and the take is
copied to OUT. The take's options (``DubOptions``) travel with the job either way;
``--local``, or an option of how the pipeline runs (``--model``, ``--device``,
``--precision``, ``--vram-policy``, ``--face-backend``: the daemon has its own), dubs in this
process.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from xdub.cli.option_args import add_option_arguments, options_from_args
from xdub.cli.pipeline_args import add_pipeline_arguments
from xdub.protocol.records import DEFAULT_SEED, Codec, VramPolicy


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
    add_option_arguments(dub, codec_default=Codec.H264, seed_default=DEFAULT_SEED)
    add_pipeline_arguments(dub, vram_policy_default=VramPolicy.RESIDENT.value)
    dub.add_argument(
        "--work-dir",
        type=Path,
        help="folder for the temporary face crops, about 1.2 GB per minute of clip "
        "(default: the system temp folder, $TMPDIR); --local only",
    )
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
    if args.device != "auto":
        found.append("--device")
    if args.precision != "auto":
        found.append("--precision")
    if args.vram_policy != VramPolicy.RESIDENT.value:
        found.append("--vram-policy")
    if args.face_backend != "builtin":
        found.append("--face-backend")
    if args.compile != "auto" or args.cuda_graphs:
        found.append("--compile/--cuda-graphs")
    if args.work_dir is not None:
        found.append("--work-dir")
    return found


def check_request(args: argparse.Namespace) -> None:
    """Refuse a request that cannot succeed, before torch or a model is loaded (in well under
    a second): missing files, folders, unreadable media, the codec, the take's folder and its
    free space."""
    from xdub.media.request_checks import check_dub_request

    codec = getattr(args.codec, "value", args.codec)
    check_dub_request(args.video, args.audio, args.output.parent, codec, output=args.output)
    if args.work_dir is not None:
        from xdub.protocol.precheck import check_output_folder

        check_output_folder(args.work_dir)


def run_via_daemon(args: argparse.Namespace) -> int:
    """Submit the whole-file job to the daemon, follow it with the bar, copy the take to -o.
    Ctrl-C cancels the job."""
    from xdub.cli.jobs import fetch_take_to, whole_file_job
    from xdub.cli.progress_bar import ProgressBar
    from xdub.client import DaemonClient
    from xdub.protocol.client import Received
    from xdub.protocol.messages import ProgressEvent
    from xdub.protocol.records import JobState

    check_request(args)
    otio_json = whole_file_job(args.video, args.audio)
    bar = ProgressBar()

    def on_event(event: Received) -> None:
        if isinstance(event.content, ProgressEvent):
            bar(event.content.progress)

    with DaemonClient() as client:
        job_id = client.submit(otio_json, options_from_args(args)).job_id
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
    with DaemonClient() as client:
        fetch_take_to(client, job_id, args.output)  # from a remote daemon: downloaded
    print(f"wrote {args.output} (daemon job {job_id})")
    return 0


def run_local(args: argparse.Namespace) -> int:
    """Dub in this process."""
    check_request(args)  # before the pipeline module imports torch
    from xdub.cli.progress_bar import ProgressBar
    from xdub.media.encode import remove_partials
    from xdub.paths import default_model_dir
    from xdub.pipeline import DubPipeline

    options = options_from_args(args)
    model_dir = args.model or default_model_dir()
    if args.work_dir is not None:
        args.work_dir.mkdir(parents=True, exist_ok=True)
    pipeline = DubPipeline(
        model_dir,
        device=args.device,
        precision=args.precision,
        vram_policy=VramPolicy(args.vram_policy),
        face_backend=args.face_backend,
        compile=args.compile,
        cuda_graphs=args.cuda_graphs,
        work_dir=args.work_dir,
    )
    if pipeline.models.is_test_weights:
        print(
            f"note: {model_dir} holds TINY RANDOM TEST WEIGHTS: the take exercises the whole "
            "pipeline but its faces are noise, not a dub",
            file=sys.stderr,
        )
    remove_partials(args.output)  # left by a run of this take that was killed mid-write
    bar = ProgressBar()
    try:
        result = pipeline.run(args.video, args.audio, args.output, options, on_progress=bar)
    finally:
        bar.close()
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    kind = "DRAFT take" if result.is_draft else "take"
    print(
        f"wrote {kind} {result.output} ({result.num_frames} frames, {result.num_windows} windows; "
        f"{speed_summary(result.speed)})"
    )
    return 0


def speed_summary(speed: dict[str, Any]) -> str:
    """One line of a take's speed metadata: quality, steps computed/skipped, compile."""
    return (
        f"{speed['quality']} quality, {speed['num_steps']} steps, "
        f"{speed['skipped_steps']} skipped by the step cache, compile {speed['compile']}"
    )
