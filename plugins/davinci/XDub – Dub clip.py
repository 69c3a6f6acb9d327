"""Workspace > Scripts > "XDub – Dub clip": dub the selected clip with its new dialogue.

Installed by ``xdub plugins install resolve``, which writes the plugin folder below.
Stdlib-only: Resolve runs this with whatever Python it finds.
"""

import os
import sys

PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))  # xdub:plugin-dir

if PLUGIN_DIR not in sys.path:
    sys.path.insert(0, PLUGIN_DIR)

from xdub_resolve import dub_clip  # noqa: E402

dub_clip.run(globals())
