"""``xdub models``: download, list, verify, delete a model folder; prepare its text context.

xdub models list [DIR] [--source hub|PATH]
xdub models download [DIR] [--source hub|PATH] [--only NAME...] [--limit-rate N[k|M|G]] [--repair]
xdub models delete [DIR] [NAME...|--all] --yes
xdub models du [DIR]
xdub models verify DIR [--source hub|PATH]
xdub models prepare-context DIR [--device cpu|cuda[:N]] [--dtype bf16|fp32] [--force]
xdub models make-tiny DIR [--seed N]

Without DIR, ``list``, ``download`` and ``delete`` ask the running daemon, which owns its model
folder (``xdub.cli.models_daemon``); with no daemon, or for the other commands, DIR defaults to
``xdub.paths.default_model_dir()`` (``$XDUB_MODEL_DIR``). Ctrl-C during a download cancels it
and keeps the partial file; the same command resumes.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xdub.cli import models_daemon

if TYPE_CHECKING:
    from xdub.client import DaemonClient
    from xdub.weights.manager import DownloadResult, ModelManager
    from xdub.weights.transfer import DownloadProgress

_DTYPES = ("bf16", "fp16", "fp32")
_PROBLEMS_SHOWN = 20
_RATE_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}
_BAR_WIDTH = 24


def register(subparsers: Any) -> None:
    """Add the ``models`` command group to the top-level ``subparsers``."""
    models = subparsers.add_parser(
        "models", help="model folder: verify, prepare, make test weights"
    )
    commands = models.add_subparsers(dest="models_command", metavar="MODELS_COMMAND", required=True)

    verify = commands.add_parser(
        "verify",
        help="check every file of a model folder (headers only; exit 1 on problems)",
        description="Check presence, integrity, keys, shapes and dtypes of every component.",
    )
    verify.add_argument("folder", type=Path, help="the model folder (HF checkpoints/ layout)")
    verify.add_argument("--all", action="store_true", help="list every problem, not the first 20")
    verify.add_argument(
        "--source", help="also check sizes and hashes against 'hub' or a local mirror folder"
    )
    verify.set_defaults(handler=run_verify)

    listing = commands.add_parser("list", help="components with state, size and path")
    _add_folder(listing)
    listing.add_argument("--source", help="compare with 'hub' or a local mirror folder")
    listing.set_defaults(handler=run_list)

    download = commands.add_parser(
        "download",
        help="fetch what the folder lacks (resumable; Ctrl-C cancels and keeps partial files)",
        description="Download the X-Dub bundle (KlingTeam/X-Dub checkpoints/) into the folder.",
    )
    _add_folder(download)
    download.add_argument(
        "--source", default="hub", help="'hub' (default) or a folder laid out like the repo"
    )
    download.add_argument("--revision", help="hub branch, tag or commit (default: main)")
    download.add_argument("--only", nargs="+", metavar="NAME", help="just these components")
    download.add_argument(
        "--limit-rate", type=_rate, metavar="N", help="cap bytes per second, e.g. 20M"
    )
    download.add_argument(
        "--repair", action="store_true", help="verify hashes first and fetch corrupt files again"
    )
    download.add_argument(
        "--no-prepare-context", action="store_true", help="do not compute the text context"
    )
    download.add_argument("--context-device", help="torch device for the text context")
    download.set_defaults(handler=run_download)

    delete = commands.add_parser(
        "delete",
        help="remove components (or --all) with their partial downloads",
        description="DIR is read as a folder when it is not a component name.",
    )
    delete.add_argument("targets", nargs="*", metavar="[DIR] NAME", help="folder, components")
    delete.add_argument("--all", action="store_true", help="every component")
    delete.add_argument("--yes", action="store_true", help="do not ask")
    delete.set_defaults(handler=run_delete)

    usage = commands.add_parser("du", help="disk use per component and free space")
    _add_folder(usage)
    usage.set_defaults(handler=run_du)

    prepare = commands.add_parser(
        "prepare-context",
        help="encode the empty prompt with umt5 once and cache it in the folder",
        description="Write xdub_text_context.safetensors; umt5 is not needed afterwards.",
    )
    prepare.add_argument("folder", type=Path)
    prepare.add_argument("--device", default="cpu", help="torch device, e.g. cuda or cuda:1")
    prepare.add_argument("--dtype", choices=_DTYPES, default="bf16", help="umt5 compute dtype")
    prepare.add_argument("--force", action="store_true", help="recompute an existing context")
    prepare.set_defaults(handler=run_prepare_context)

    tiny = commands.add_parser(
        "make-tiny",
        help="write a complete folder of tiny random TEST WEIGHTS (for tests and demos)",
    )
    tiny.add_argument("folder", type=Path)
    tiny.add_argument("--seed", type=int, default=0)
    tiny.set_defaults(handler=run_make_tiny)


def run_verify(args: argparse.Namespace) -> int:
    """Handler of ``xdub models verify``: a table of components, then every problem."""
    from xdub.errors import ModelError
    from xdub.weights.folder import ModelFolder

    if not args.folder.is_dir():
        raise ModelError(f"model folder {args.folder} does not exist", code="model_missing")
    folder = ModelFolder(args.folder)
    config_problems = folder.config_problems()
    statuses = folder.status()
    if args.source:
        manager = _manager(args.folder, args.source)
        statuses = [
            dataclasses.replace(
                status, problems=status.problems + manager.source_problems(status.component.name)
            )
            if status.is_present
            else status
            for status in statuses
        ]
    print(f"{'component':<13} {'state':<9} {'size':>10}  path")
    for status in statuses:
        if status.problems:
            state = "PROBLEM"
        elif status.is_present:
            state = "ok"
        else:
            state = "absent"
        size = _size_text(status.size_bytes) if status.is_present else "-"
        print(f"{status.component.name:<13} {state:<9} {size:>10}  {status.component.path}")
    if not config_problems and folder.metadata.is_test_weights:
        print("note: this folder holds TEST WEIGHTS (random values), not a usable model")
    problems = config_problems + [p for status in statuses for p in status.problems]
    shown = problems if args.all else problems[:_PROBLEMS_SHOWN]
    for problem in shown:
        print(f"problem: {problem}" + (f" (hint: {problem.hint})" if problem.hint else ""))
    if len(shown) < len(problems):
        print(f"... and {len(problems) - len(shown)} more (--all lists them)")
    if config_problems:
        print("file checks skipped: the configs above must be fixed first")
    print(f"{len(problems)} problem(s)" if problems else "all components ok")
    return 1 if problems else 0


def run_prepare_context(args: argparse.Namespace) -> int:
    """Handler of ``xdub models prepare-context``."""
    from safetensors import safe_open

    from xdub.weights.context_prep import prepare_text_context
    from xdub.weights.folder import ModelFolder
    from xdub.weights.text_config import TEXT_CONTEXT_KEY

    folder = ModelFolder(args.folder)
    target = folder.path("text_context")
    if target.is_file() and not args.force:
        print(f"{target} exists; use --force to recompute")
        return 0
    prepare_text_context(folder, args.device, args.dtype)
    with safe_open(str(target), framework="pt") as written:
        shape = tuple(written.get_slice(TEXT_CONTEXT_KEY).get_shape())
    print(f"wrote {target} {shape} {args.dtype}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Handler of ``xdub models list``: one row per component."""
    client = _daemon_unless_folder(args)
    if client is not None:
        with client:
            return models_daemon.list_models(client)
    manager = _manager(args.folder, args.source)
    print(f"{'component':<13} {'state':<8} {'size':>10} {'on disk':>10}  path")
    for report in manager.status():
        flag = "" if report.is_required else " (optional)"
        print(
            f"{report.name:<13} {report.state.value:<8} {_size_text(report.size_bytes):>10} "
            f"{_size_text(report.bytes_on_disk):>10}  {report.path}{flag}"
        )
    return 0


def run_download(args: argparse.Namespace) -> int:
    """Handler of ``xdub models download``: a progress bar; Ctrl-C cancels (resumable)."""
    from xdub.errors import JobCancelled

    client = _daemon_unless_folder(args)
    if client is not None:
        local_only = [flag for flag, value in _local_download_flags(args) if value]
        if local_only:
            print(f"note: the daemon uses its own {', '.join(local_only)}; give DIR to use yours")
        with client:
            return models_daemon.download(client, args.only or ())
    manager = _manager(args.folder, args.source, revision=args.revision, max_bps=args.limit_rate)
    if args.repair:
        for problem in manager.verify(args.only):
            print(f"problem: {problem}")
    plan = manager.plan(args.only)
    print(
        f"{len(plan.tasks)} file(s) to fetch from {manager.source_label}: "
        f"{_size_text(plan.bytes_to_fetch)} of {_size_text(plan.bytes_total)}"
    )
    bar = _DownloadBar(sys.stderr)
    cancel = threading.Event()
    outcome: list[DownloadResult | BaseException] = []

    def work() -> None:
        try:
            outcome.append(
                manager.download(
                    bar,
                    cancel,
                    args.only,
                    can_prepare_context=not args.no_prepare_context,
                    context_device=args.context_device,
                )
            )
        except BaseException as exc:  # handed to the main thread, which re-raises it
            outcome.append(exc)

    def on_interrupt(signum: int, frame: object) -> None:
        cancel.set()  # the worker stops within one chunk; a second Ctrl-C interrupts for real
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    worker = threading.Thread(target=work, name="xdub-download")
    try:
        worker.start()
        worker.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    bar.close()
    result = outcome[0]
    if isinstance(result, JobCancelled):
        print("download cancelled; partial files are kept: run the same command to resume")
        return 130
    if isinstance(result, BaseException):
        raise result
    print(f"fetched {len(result.files_fetched)} file(s), {_size_text(result.bytes_fetched)}")
    if result.note:
        print(f"note: {result.note}")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    """Handler of ``xdub models delete``."""
    from xdub.errors import ModelError
    from xdub.paths import default_model_dir
    from xdub.weights.folder import COMPONENTS

    known = {entry.name for entry in COMPONENTS}
    targets = list(args.targets)
    has_folder = bool(targets) and targets[0] not in known
    folder = Path(targets.pop(0)) if has_folder else default_model_dir()
    if bool(targets) == args.all:
        raise ModelError("name the components to delete, or pass --all", code="bad_arguments")
    what = "every component" if args.all else ", ".join(targets)
    client = None if has_folder else models_daemon.running_daemon()
    where = "the daemon's model folder" if client is not None else str(folder)
    if not args.yes:
        if not sys.stdin.isatty():
            print(f"would delete {what} from {where}; pass --yes to do it")
            return 1
        if input(f"delete {what} from {where}? [y/N] ").strip().lower() != "y":
            return 1
    if client is not None:
        with client:
            return models_daemon.delete(client, sorted(known) if args.all else targets)
    freed = _manager(folder, None).delete(None if args.all else targets)
    print(f"deleted {what} from {folder}: {_size_text(freed)} freed")
    return 0


def run_du(args: argparse.Namespace) -> int:
    """Handler of ``xdub models du``."""
    from xdub.paths import default_model_dir

    usage = _manager(args.folder or default_model_dir(), None).disk_usage()
    for name, size_bytes in usage.by_component.items():
        print(f"{name:<13} {_size_text(size_bytes):>10}")
    print(f"{'partial':<13} {_size_text(usage.partial_bytes):>10}")
    print(f"{'total':<13} {_size_text(usage.total_bytes):>10}")
    print(f"{'free':<13} {_size_text(usage.free_bytes):>10}")
    return 0


def run_make_tiny(args: argparse.Namespace) -> int:
    """Handler of ``xdub models make-tiny``."""
    from xdub.weights.tiny import make_tiny_folder

    folder = make_tiny_folder(args.folder, seed=args.seed)
    print(f"wrote a tiny TEST WEIGHTS model folder to {folder.root} (seed {args.seed})")
    return 0


class _DownloadBar:
    """Download progress on one redrawn line (a terminal) or one line per file state."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.is_tty = stream.isatty()
        self._last: tuple[str, str] | None = None

    def __call__(self, progress: DownloadProgress) -> None:
        total = max(progress.bytes_total, 1)
        filled = round(progress.bytes_done / total * _BAR_WIDTH)
        eta = "ETA ?"
        if progress.eta_s is not None:
            minutes, seconds = divmod(int(progress.eta_s), 60)
            eta = f"ETA {minutes}:{seconds:02d}"
        line = (
            f"[{'#' * filled}{'-' * (_BAR_WIDTH - filled)}] {progress.bytes_done / total:4.0%} "
            f"{_size_text(progress.bytes_done)}/{_size_text(progress.bytes_total)} "
            f"{_size_text(int(progress.speed_bps))}/s {eta} {progress.state.value} "
            f"{progress.file}"
        )
        if self.is_tty:
            self.stream.write("\r" + line.ljust(110))
            self.stream.flush()
        elif (progress.file, progress.state.value) != self._last:
            self._last = (progress.file, progress.state.value)
            self.stream.write(line + "\n")

    def close(self) -> None:
        if self.is_tty:
            self.stream.write("\n")


def _add_folder(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "folder",
        type=Path,
        nargs="?",
        help="the model folder (default: the running daemon's, else $XDUB_MODEL_DIR)",
    )


def _daemon_unless_folder(args: argparse.Namespace) -> DaemonClient | None:
    """The running daemon when no DIR was given (it owns its folder); else None, with
    ``args.folder`` set to the folder to work on here."""
    from xdub.paths import default_model_dir

    client = models_daemon.running_daemon() if args.folder is None else None
    if client is None and args.folder is None:
        args.folder = default_model_dir()
    return client


def _local_download_flags(args: argparse.Namespace) -> list[tuple[str, object]]:
    """``xdub models download`` options that only a download in this process honours."""
    return [
        ("--source", args.source != "hub"),
        ("--revision", args.revision),
        ("--limit-rate", args.limit_rate),
        ("--repair", args.repair),
    ]


def _manager(
    folder: Path, source: str | None, *, revision: str | None = None, max_bps: float | None = None
) -> ModelManager:
    """A manager of ``folder`` over ``hub``, a local mirror path, or no source."""
    from xdub.weights.manager import ModelManager
    from xdub.weights.sources import HubSource, LocalSource

    if source is None:
        return ModelManager(folder, max_bps=max_bps)
    chosen = HubSource(revision=revision) if source == "hub" else LocalSource(Path(source))
    return ModelManager(folder, chosen, max_bps=max_bps)


def _rate(text: str) -> float:
    """``20M`` -> 20e6 bytes per second (suffixes k, M, G; decimal)."""
    number, unit = text[:-1], text[-1:].lower()
    if unit not in _RATE_UNITS:
        number, unit = text, ""
    try:
        return float(number) * _RATE_UNITS[unit]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a rate: {text!r} (e.g. 500k, 20M)") from exc


def _size_text(size_bytes: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size_bytes >= scale:
            return f"{size_bytes / scale:.1f} {unit}"
    return f"{size_bytes} B"
