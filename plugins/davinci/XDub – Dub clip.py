"""Workspace > Scripts > "XDub – Dub clip": dub the selected clip with its new dialogue.

Installed by ``xdub plugins install resolve``, which writes the plugin folder below.
Stdlib-only: Resolve runs this with whatever Python it finds.
"""

import os
import sys

PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))  # xdub:plugin-dir

MIN_PYTHON = (3, 10)

if sys.version_info < MIN_PYTHON:  # the plugin's code needs 3.10: say so instead of failing
    print(
        "XDub needs Python 3.10 or newer, but Resolve runs its scripts with Python "
        + ".".join(str(part) for part in sys.version_info[:3])
        + " ("
        + sys.executable
        + "). Install Python 3.10-3.12 for all users (see docs/resolve.md) and restart Resolve."
    )
else:
    if PLUGIN_DIR not in sys.path:
        sys.path.insert(0, PLUGIN_DIR)
    from xdub_resolve import dub_clip

    dub_clip.run(globals())
