"""The steps of ``xdub setup``: Resolve scripts, Blender extension, login service, models.

Each step says what it does (in a dry run: what it would do, changing nothing), records every
addition in the manifest, and returns a ``StepResult``; a failed step does not stop the
others, and its result says how to retry.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from xdub.errors import XdubError
from xdub.setup.hosts import HostProbe, find_blenders, resolve_roots
from xdub.setup.layout import Layout
from xdub.setup.manifest import Manifest
from xdub.setup.services import Service

BLENDER_EXTENSION_ID = "xdub"
BLENDER_REPO = "user_default"

RunCommand = Callable[[Sequence[str]], tuple[int, str]]


def run_command(argv: Sequence[str]) -> tuple[int, str]:
    """Exit code and output of a command (127 when the program is missing)."""
    try:
        result = subprocess.run(list(argv), capture_output=True, text=True, timeout=300)
    except FileNotFoundError:
        return 127, f"{argv[0]}: not found"
    except subprocess.TimeoutExpired:
        return 124, f"{argv[0]}: no answer within 300 s"
    return result.returncode, (result.stdout + result.stderr).strip()


@dataclass(frozen=True)
class StepResult:
    step: str
    status: str  # "ok" | "skipped" | "warning" | "failed"
    detail: str


@dataclass
class SetupContext:
    """What the steps share. ``say`` prints a line; ``run`` runs a command."""

    layout: Layout
    hosts: HostProbe
    manifest: Manifest
    log_dir: Path
    dry_run: bool = False
    wheelhouse: Path | None = None
    start_daemon: bool = True
    say: Callable[[str], None] = print
    run: RunCommand = run_command

    @property
    def launcher(self) -> Path:
        """The installer's ``xdub`` launcher; in a developer checkout, this venv's script."""
        installed = self.layout.launcher("xdub")
        return installed if installed.is_file() else Path(sys.executable).parent / "xdub"

    def service(self) -> Service:
        config_home = self.hosts.env.get("XDG_CONFIG_HOME") or None
        return Service.for_user(
            self.layout.system, self.hosts.home, config_home, self.layout.data, self.launcher,
            self.log_dir,
        )  # fmt: skip

    def write(self, path: Path, data: bytes) -> None:
        """Write a file that setup adds (its new folders and itself recorded)."""
        self.manifest.make_dirs(path.parent)
        path.write_bytes(data)


def resolve_step(ctx: SetupContext) -> StepResult:
    from xdub.cli.plugins import resolve_install

    roots = resolve_roots(ctx.hosts)
    if not roots:
        return StepResult("resolve", "skipped", "DaVinci Resolve not found")
    for root in roots:
        ctx.say(
            f"  Resolve scripts: {root / 'Scripts'}/{{Edit,Utility}}, plugin in {root / 'XDub'}"
        )
    if ctx.dry_run:
        return StepResult("resolve", "ok", f"would install into {len(roots)} Fusion folder(s)")
    for root in roots:
        for folder in (root / "Scripts" / "Edit", root / "Scripts" / "Utility", root):
            ctx.manifest.make_dirs(folder)
    written = resolve_install.install(
        home=ctx.hosts.home, platform=ctx.hosts.sys_platform, env=ctx.hosts.env
    )
    for root in roots:
        ctx.manifest.add("resolve", root)
    return StepResult("resolve", "ok", f"{len(written)} menu scripts; restart Resolve to see them")


def blender_step(ctx: SetupContext) -> StepResult:
    blenders, notes = find_blenders(ctx.hosts)
    for note in notes:
        ctx.say(f"  {note}")
    if not blenders:
        return StepResult("blender", "skipped", "no Blender 4.2 or newer found")
    for blender in blenders:
        ctx.say(f"  Blender {blender.version_text}: {blender.executable}")
    if ctx.dry_run:
        return StepResult("blender", "ok", f"would install the extension into {len(blenders)}")
    from xdub.cli.plugins.build import build_blender

    failures = []
    with tempfile.TemporaryDirectory() as scratch:
        archive = build_blender(
            Path(scratch), wheel_cache=ctx.wheelhouse, offline=ctx.wheelhouse is not None
        )
        for blender in blenders:
            code, output = ctx.run(
                [str(blender.executable), "--command", "extension", "install-file",
                 "--repo", BLENDER_REPO, "--enable", str(archive)]
            )  # fmt: skip
            if code == 0:
                ctx.manifest.add("blender", blender.executable, extension=BLENDER_EXTENSION_ID)
            else:
                failures.append(f"Blender {blender.version_text}: {output[-300:]}")
    if failures:
        return StepResult("blender", "failed", "; ".join(failures) + " (run `xdub setup` again)")
    return StepResult("blender", "ok", f"extension enabled in {len(blenders)} Blender(s)")


def service_step(ctx: SetupContext) -> StepResult:
    service = ctx.service()
    ctx.say(f"  login service: {service.path}")
    commands = service.register_commands()
    for command in commands:
        ctx.say(f"  then: {' '.join(command)}")
    if ctx.dry_run:
        return StepResult("service", "ok", f"would write {service.path.name} and register it")
    ctx.write(service.path, service.render())
    ctx.manifest.add("service", service.path)
    if not ctx.start_daemon:
        return StepResult("service", "ok", "written; not registered (--no-start)")
    for command in commands:
        code, output = ctx.run(command)
        if code != 0:
            started = ctx.run([str(ctx.launcher), "daemon", "start"])
            how = "started it now" if started[0] == 0 else f"could not start it: {started[1]}"
            return StepResult(
                "service", "warning",
                f"written, but `{' '.join(command)}` failed ({output[-200:] or code}); "
                f"{how}; run `xdub setup` again in a desktop session to register it",
            )  # fmt: skip
    return StepResult("service", "ok", "registered; the daemon starts at login")


def models_step(ctx: SetupContext, choice: str, source: str | None) -> StepResult:
    """``choice``: 'download', 'skip' or 'ask' (asks on a terminal, else skips)."""
    from xdub.paths import default_model_dir
    from xdub.weights.folder import ModelFolder

    folder = default_model_dir()
    if folder.is_dir() and not any(s.problems or not s.is_present
                                   for s in ModelFolder(folder).status()):  # fmt: skip
        return StepResult("models", "ok", f"already installed in {folder}")
    where = source or "Hugging Face (KlingTeam/X-Dub, about 30 GB)"
    if choice == "ask":
        if ctx.dry_run or not sys.stdin.isatty():
            choice = "skip"
        else:
            answer = input(f"Download the X-Dub models from {where} now? [y/N] ")
            choice = "download" if answer.strip().lower() in ("y", "yes") else "skip"
    if choice == "skip" or ctx.dry_run:
        verb = "would download" if ctx.dry_run and choice == "download" else "not downloaded"
        return StepResult("models", "skipped", f"{verb}; later: xdub models download")
    from xdub.cli import main as xdub_main

    code = xdub_main(["models", "download", *(["--source", source] if source else [])])
    if code != 0:
        return StepResult("models", "failed", "download stopped; `xdub models download` resumes")
    return StepResult("models", "ok", f"downloaded into {folder}")


def run_steps(ctx: SetupContext, models: str, models_source: str | None) -> list[StepResult]:
    """Every setup step in order; each failure becomes a ``failed`` result, not an exception."""
    results = []
    steps: list[tuple[str, Callable[[], StepResult]]] = [
        ("resolve", lambda: resolve_step(ctx)),
        ("blender", lambda: blender_step(ctx)),
        ("service", lambda: service_step(ctx)),
        ("models", lambda: models_step(ctx, models, models_source)),
    ]
    for name, step in steps:
        ctx.say(f"{name}:")
        try:
            result = step()
        except (XdubError, OSError) as error:
            result = StepResult(name, "failed", f"{error} (fix it, then run `xdub setup` again)")
        finally:
            if not ctx.dry_run:
                ctx.manifest.save()
        ctx.say(f"  {result.status}: {result.detail}")
        results.append(result)
    return results
