"""The DaVinci Resolve side of xdub: stdlib-only Python run by Resolve's menu scripts.

``dub_clip`` and ``collect`` are the two commands; ``host`` wraps Resolve's API, ``timing`` the
time arithmetic, ``job`` the OTIO job, ``progress`` the wait, ``lua_host`` the helper behind the
Lua launcher (free Resolve 21.1+). The daemon client, the take reader and the timecode come
from ``xdub_protocol``: the copy of xdub's protocol package that ``xdub plugins install
resolve`` (``xdub.cli.plugins.vendor``) writes into this package, as the Blender build does into
the extension. A source checkout has no copy: run the plugin from an installed folder.
"""
