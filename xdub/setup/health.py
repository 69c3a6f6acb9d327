"""The health check that ends ``xdub setup``: one row per thing an editor needs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from xdub.setup.manifest import Manifest
from xdub.setup.steps import StepResult


def device_row() -> StepResult:
    import torch

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        kind = "ROCm" if getattr(torch.version, "hip", None) else f"CUDA {torch.version.cuda}"
        return StepResult("device", "ok", f"{name} ({kind}), torch {torch.__version__}")
    if torch.backends.mps.is_available():
        return StepResult("device", "ok", f"Apple GPU (MPS), torch {torch.__version__}")
    return StepResult("device", "warning", f"CPU only (slow), torch {torch.__version__}")


def daemon_row() -> StepResult:
    from xdub.client import DaemonClient
    from xdub.errors import ProtocolError

    try:
        with DaemonClient(timeout_s=3.0) as client:
            hello = client.hello()
    except ProtocolError as error:
        return StepResult("daemon", "warning", f"not reachable ({error}); xdub daemon start")
    return StepResult("daemon", "ok", f"pid {hello.pid} on {hello.device}")


def models_row(folder: Path) -> StepResult:
    from xdub.weights.folder import ModelFolder

    if not folder.is_dir():
        return StepResult("models", "warning", f"not installed in {folder}; xdub models download")
    model = ModelFolder(folder)
    problems = model.config_problems() or [p for s in model.status() for p in s.problems]
    absent = [s.component.name for s in model.status() if not s.is_present]
    if problems:
        return StepResult("models", "failed", f"{problems[0]} ({len(problems)} problem(s))")
    if absent:
        return StepResult("models", "warning", f"missing {', '.join(absent)}; xdub models download")
    return StepResult("models", "ok", f"verified in {folder}")


def plugin_rows(manifest: Manifest) -> list[StepResult]:
    from xdub.cli.plugins.resolve_install import CATEGORIES, MENU_SCRIPTS

    rows = []
    roots = [Path(e["path"]) for e in manifest.entries if e["kind"] == "resolve"]
    if roots:
        missing = [
            root / "Scripts" / category / name
            for root in roots
            for category in CATEGORIES
            for name in MENU_SCRIPTS
            if not (root / "Scripts" / category / name).is_file()
        ]
        status = "failed" if missing else "ok"
        detail = f"missing {missing[0]}" if missing else f"scripts in {len(roots)} Fusion folder(s)"
        rows.append(StepResult("resolve", status, detail))
    services = [Path(e["path"]) for e in manifest.entries if e["kind"] == "service"]
    for service in services:
        if service.is_file():
            rows.append(StepResult("service", "ok", str(service)))
        else:
            rows.append(StepResult("service", "failed", f"{service} missing; run `xdub setup`"))
    blenders = [e["path"] for e in manifest.entries if e["kind"] == "blender"]
    if blenders:
        rows.append(StepResult("blender", "ok", f"extension in {len(blenders)} Blender(s)"))
    return rows


def health_rows(manifest: Manifest, model_folder: Path) -> list[StepResult]:
    return [device_row(), daemon_row(), models_row(model_folder), *plugin_rows(manifest)]


def format_table(rows: Sequence[StepResult]) -> str:
    width = max(len(row.step) for row in rows)
    lines = [f"{'check':<{width}}  {'status':<8}  detail", f"{'-' * width}  {'-' * 8}  {'-' * 6}"]
    lines += [f"{row.step:<{width}}  {row.status:<8}  {row.detail}" for row in rows]
    return "\n".join(lines)
