"""The DaVinci Resolve side of xdub: stdlib-only Python run by Resolve's menu scripts.

``dub_clip`` and ``collect`` are the two commands; ``host`` wraps Resolve's API, ``timing`` the
time arithmetic, ``job`` the OTIO job, ``link`` the daemon connection, ``progress`` the wait,
``lua_host`` the helper behind the Lua launcher (free Resolve 21.1+).

Importing the package puts ``_vendor/`` first on ``sys.path``: the copy of xdub's stdlib-only
protocol modules that ``xdub plugins install resolve`` writes there (absent in a source
checkout, where the installed ``xdub`` serves), so every module can import ``xdub.protocol``.
"""

from __future__ import annotations

import sys
from pathlib import Path

VENDOR_DIR = Path(__file__).resolve().parent / "_vendor"

if VENDOR_DIR.is_dir() and str(VENDOR_DIR) not in sys.path:
    sys.path.insert(0, str(VENDOR_DIR))
