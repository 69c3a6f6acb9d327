"""``xdub submit`` and ``xdub jobs``: queue takes on the daemon and follow them.

xdub submit VIDEO AUDIO [take options as xdub dub] [--priority P --output-dir D --wait]
xdub submit --otio FILE [...]
xdub jobs list [--state S ...] [--limit N]
xdub jobs watch JOB_ID
xdub jobs cancel JOB_ID
xdub jobs retry JOB_ID
xdub jobs fetch JOB_ID -o FILE_OR_FOLDER
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xdub.cli.option_args import add_option_arguments, options_from_args
from xdub.protocol.records import Codec, JobInfo, JobState

if TYPE_CHECKING:
    from xdub.protocol.client import DaemonClient


def register(subparsers: Any) -> None:
    """Add ``submit`` and ``jobs`` to the top-level ``subparsers``."""
    submit = subparsers.add_parser(
        "submit",
        help="queue a take on the daemon",
        description="Queue VIDEO dubbed with AUDIO (whole files), or an OTIO job timeline.",
    )
    submit.add_argument("video", type=Path, nargs="?", help="the clip to dub")
    submit.add_argument("audio", type=Path, nargs="?", help="the replacement dialogue")
    submit.add_argument("--otio", type=Path, help="an OTIO job timeline instead of VIDEO AUDIO")
    add_option_arguments(submit, codec_default=Codec.H264, seed_default=None)
    submit.add_argument("--priority", type=int, default=0, help="-100..100, higher runs first")
    submit.add_argument("--output-dir", type=Path, help="folder for the take (absolute)")
    submit.add_argument("--wait", action="store_true", help="follow the job until it ends")
    submit.set_defaults(handler=run_submit)

    jobs = subparsers.add_parser(
        "jobs", help="list, watch, cancel, retry daemon jobs or make a draft final"
    )
    commands = jobs.add_subparsers(dest="jobs_command", metavar="COMMAND", required=True)
    listing = commands.add_parser("list", help="jobs, newest first")
    listing.add_argument("--state", action="append", choices=[s.value for s in JobState])
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(handler=run_list)
    for name, handler, text in (
        ("watch", run_watch, "follow a job's progress until it ends"),
        ("cancel", run_cancel, "cancel a queued or running job"),
        ("retry", run_retry, "queue a failed or cancelled job again"),
        ("final", run_final, "queue the final take of a done draft (no new face tracking)"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("job_id")
        command.set_defaults(handler=handler)
    fetch = commands.add_parser("fetch", help="download a done job's take from a remote daemon")
    fetch.add_argument("job_id")
    fetch.add_argument("-o", "--output", type=Path, required=True, help="a file or a folder")
    fetch.set_defaults(handler=run_fetch)


def whole_file_job(video: Path, audio: Path) -> str:
    """The OTIO job JSON dubbing all of ``video`` with ``audio`` from its start (cut to the
    video's length; shorter dialogue is followed by silence)."""
    from opentimelineio.opentime import RationalTime, TimeRange

    from xdub.dialogue import length_warning
    from xdub.job.timeline import DialogueClip, SourceClip, build_job, job_to_json
    from xdub.media.audio import load_audio
    from xdub.media.mix import DIALOGUE_SAMPLE_RATE_HZ
    from xdub.media.probe import probe

    video, audio = video.resolve(), audio.resolve()
    info = probe(video)
    fps = float(info.fps)
    video_range = TimeRange(RationalTime(0, fps), RationalTime(info.num_frames, fps))
    rate = DIALOGUE_SAMPLE_RATE_HZ
    num_samples = len(load_audio(audio, rate))
    audio_range = TimeRange(RationalTime(0, rate), RationalTime(num_samples, rate))
    used = min(num_samples, int(info.num_frames / fps * rate))
    warning = length_warning(num_samples / rate, info.num_frames / fps)
    cut = [warning] if warning and num_samples > used else []  # padding: parse_job says so
    dialogue = DialogueClip(
        audio,
        TimeRange(RationalTime(0, rate), RationalTime(used, rate)),
        offset=RationalTime(0, fps),
        available_range=audio_range,
    )
    timeline = build_job(
        SourceClip(video, video_range, available_range=video_range),
        [dialogue],
        name=video.stem,
        host="cli",
        warnings=cut,
    )
    return job_to_json(timeline)


def _print_job(job: JobInfo) -> None:
    progress = ""
    if job.progress is not None and job.state is JobState.RUNNING:
        progress = f" {job.progress.fraction:4.0%} {job.progress.stage.value}"
    print(f"{job.job_id}  {job.state.value:<9} {job.updated_at[:19]}  {job.name}{progress}")
    if job.error is not None:
        print(f"    error [{job.error.code}]: {job.error.message}")
        if job.error.hint:
            print(f"    hint: {job.error.hint}")


def _follow(job_id: str) -> int:
    from xdub.cli.progress_bar import ProgressBar
    from xdub.client import DaemonClient
    from xdub.protocol.client import Received
    from xdub.protocol.messages import ProgressEvent

    bar = ProgressBar()

    def on_event(event: Received) -> None:
        if isinstance(event.content, ProgressEvent):
            bar(event.content.progress)

    with DaemonClient() as client:
        try:
            job = client.wait(job_id, on_event=on_event)
        finally:
            bar.close()
    _print_job(job)
    if job.state is JobState.DONE and job.result_otio:
        from xdub.job.result import parse_result

        print(f"take: {parse_result(job.result_otio).take_path}")
    return 0 if job.state is JobState.DONE else 1


def run_submit(args: argparse.Namespace) -> int:
    """Handler of ``xdub submit``."""
    from xdub.client import DaemonClient

    if args.otio is not None:
        if args.video or args.audio:
            raise SystemExit("xdub submit: give VIDEO AUDIO or --otio FILE, not both")
        otio_json = args.otio.read_text(encoding="utf-8")
    elif args.video and args.audio:
        otio_json = whole_file_job(args.video, args.audio)
    else:
        raise SystemExit("xdub submit: give VIDEO AUDIO, or --otio FILE")
    output_dir = str(args.output_dir.resolve()) if args.output_dir else None
    options = options_from_args(args, output_dir=output_dir)
    with DaemonClient() as client:
        reply = client.submit(otio_json, options, priority=args.priority)
        remote = client.sends_media
    print(f"{reply.job_id} {reply.state.value} ({reply.queue_position} ahead)")
    status = _follow(reply.job_id) if args.wait else 0
    if args.wait and status == 0 and remote and args.output_dir:
        args.output_dir.mkdir(parents=True, exist_ok=True)  # the take comes down into it
        with DaemonClient() as client:
            print(f"wrote {fetch_take_to(client, reply.job_id, args.output_dir.resolve())}")
    return status


def run_list(args: argparse.Namespace) -> int:
    from xdub.client import DaemonClient

    states = [JobState(state) for state in args.state] if args.state else None
    with DaemonClient() as client:
        jobs = client.list_jobs(states, args.limit)
    for job in jobs:
        _print_job(job)
    if not jobs:
        print("no jobs", file=sys.stderr)
    return 0


def run_watch(args: argparse.Namespace) -> int:
    return _follow(args.job_id)


def run_cancel(args: argparse.Namespace) -> int:
    from xdub.client import DaemonClient

    with DaemonClient() as client:
        print(f"{args.job_id} {client.cancel(args.job_id).value}")
    return 0


def run_final(args: argparse.Namespace) -> int:
    """Handler of ``xdub jobs final``: prints the new job's id."""
    from xdub.client import DaemonClient

    with DaemonClient() as client:
        print(f"{client.make_final(args.job_id)} queued (final of {args.job_id})")
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    """Handler of ``xdub jobs fetch``: the take into ``-o`` (from a remote daemon, chunked
    and checked; from a local one, copied)."""
    from xdub.client import DaemonClient

    with DaemonClient() as client:
        print(f"wrote {fetch_take_to(client, args.job_id, args.output)}")
    return 0


def fetch_take_to(client: DaemonClient, job_id: str, output: Path) -> Path:
    """The take of the done job ``job_id`` written to ``output`` (a file or a folder):
    downloaded from a remote daemon (``DaemonClient.sends_media``), else copied."""
    import shutil

    if client.sends_media:
        return Path(client.fetch_take(job_id, into=output).path)
    take = Path(client.fetch_take(job_id).path)
    target = output / take.name if output.is_dir() else output
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(take, target)
    return target


def run_retry(args: argparse.Namespace) -> int:
    from xdub.client import DaemonClient

    with DaemonClient() as client:
        print(f"{args.job_id} {client.retry(args.job_id).value}")
    return 0
