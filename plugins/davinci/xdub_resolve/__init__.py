"""The DaVinci Resolve side of xdub: stdlib-only Python run by Resolve's menu scripts.

``dub_clip`` and ``collect`` are the two commands; ``host`` wraps Resolve's API, ``timing`` the
time arithmetic, ``job`` the OTIO JSON, ``link`` the daemon connection, ``progress`` the wait,
``lua_host`` the helper behind the Lua launcher (free Resolve 21.1+).
"""
