"""Workspace > Scripts > "XDub – Collect finished takes": place takes that finished meanwhile.

Installed with the plugin folder below; ``xdub_menu`` checks Resolve's Python first.
"""

import os
import sys

PLUGIN_DIR = os.path.dirname(os.path.abspath(__file__))  # xdub:plugin-dir

if PLUGIN_DIR not in sys.path:
    sys.path.insert(0, PLUGIN_DIR)

import xdub_menu  # noqa: E402  (found through PLUGIN_DIR)

xdub_menu.run("collect", globals())
