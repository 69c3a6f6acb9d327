"""The one way hosts get the protocol package: a copy named ``xdub_protocol`` inside the plugin.

Both the Blender extension (``build.stage_extension``) and the Resolve plugin
(``resolve_install``) carry ``xdub_protocol/``: the modules of ``xdub.protocol.HOST_MODULES``
and the package ``__init__``, with ``xdub/errors.py`` as ``exceptions.py``, their
``xdub.protocol.X``/``xdub.errors`` imports made relative. So the plugins' code imports the same
module names in both hosts (``from .xdub_protocol.client import DaemonClient``), nothing of the
copy can clash with another add-on's modules, and the copy is made at build time, never forked.
"""

from __future__ import annotations

import re
from pathlib import Path

from xdub.errors import XdubError
from xdub.protocol import HOST_MODULES

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
VENDOR_PACKAGE = "xdub_protocol"
PROTOCOL_MODULES = ("__init__", *HOST_MODULES)
_IMPORT = re.compile(r"^(\s*)from xdub\.(protocol\.(\w+)|errors) import", re.MULTILINE)
_LEFTOVER = re.compile(r"^\s*(from|import) xdub\b.*$", re.MULTILINE)


def vendor_module(source: str, name: str) -> str:
    """A protocol module's text with ``xdub.protocol.X``/``xdub.errors`` imports made relative."""

    def relative(match: re.Match[str]) -> str:
        module = match.group(3) or "exceptions"
        return f"{match.group(1)}from .{module} import"

    text = _IMPORT.sub(relative, source)
    leftover = _LEFTOVER.search(text)
    if leftover:
        raise XdubError(
            f"{name} imports {leftover.group(0).strip()!r}, which hosts lack",
            code="build_failed",
            hint="hosts get xdub/protocol and xdub/errors.py only; import from those",
        )
    return text


def vendor_protocol(parent: Path) -> Path:
    """Write ``parent/xdub_protocol/`` (replacing an older copy); returns its path."""
    vendor = parent / VENDOR_PACKAGE
    vendor.mkdir(parents=True, exist_ok=True)
    for stale in vendor.glob("*.py"):
        stale.unlink()
    sources = {f"{name}.py": PACKAGE_ROOT / "protocol" / f"{name}.py" for name in PROTOCOL_MODULES}
    sources["exceptions.py"] = PACKAGE_ROOT / "errors.py"
    for target, source in sources.items():
        origin = source.relative_to(PACKAGE_ROOT).as_posix()
        header = f"# Copied from xdub/{origin} by xdub.cli.plugins.vendor.\n"
        text = vendor_module(source.read_text(encoding="utf-8"), source.name)
        (vendor / target).write_text(header + text, encoding="utf-8")
    return vendor
