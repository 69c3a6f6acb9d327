"""Entry point the Lua launcher runs: ``python xdub_lua_host.py dub|collect``."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from xdub_resolve.lua_host import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
