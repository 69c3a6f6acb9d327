"""What both Python menu scripts run: check Resolve's Python, then run the plugin's command.

Resolve runs its scripts with whatever Python it finds, and ``xdub_resolve`` needs 3.10. This
module is what an older Python reaches before any of that code is imported, so it keeps to
syntax every Python 3 parses (no f-strings, no annotations; ``tests/plugins/resolve`` parses it
with Python 3.4's grammar) and says which Python ran instead of failing with a SyntaxError.
"""

import importlib
import sys

MIN_PYTHON = (3, 10)


def run(command, script_globals):  # type: (str, dict) -> None
    """``xdub_resolve.<command>.run(script_globals)``, or a Console line on an older Python."""
    if sys.version_info < MIN_PYTHON:
        print(
            "XDub needs Python 3.10 or newer, but Resolve runs its scripts with Python "
            + ".".join(str(part) for part in sys.version_info[:3])
            + " ("
            + sys.executable
            + "). Install Python 3.10-3.12 for all users (see docs/resolve.md) and restart Resolve."
        )
        return
    importlib.import_module("xdub_resolve." + command).run(script_globals)
