"""Resolve's Lua scripting for the fake: a real Lua 5.1 (lupa) whose ``Resolve()`` is the fake.

As in Resolve, API objects are userdata called with ``obj:Method(...)``; a method the object
lacks indexes to ``nil``; lists come back as 1-based tables and dicts as tables. ``print`` goes
to the Console (here: a list).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lupa import luajit21 as lua51

BINDING = """
local py_has, py_call = ...
local registry = setmetatable({}, { __mode = "k" })
local wrap, unwrap
function unwrap(value)
  if type(value) == "userdata" and registry[value] ~= nil then return registry[value] end
  if type(value) == "table" then
    local copy = {}
    for key, item in pairs(value) do copy[key] = unwrap(item) end
    return copy
  end
  return value
end
function wrap(value)
  if type(value) == "userdata" then
    local proxy = newproxy(true)
    registry[proxy] = value
    getmetatable(proxy).__index = function(_, name)
      if not py_has(value, name) then return nil end
      return function(self, ...)
        local n = select("#", ...)
        local args = { ... }
        for i = 1, n do args[i] = unwrap(args[i]) end
        return wrap(py_call(value, name, n, args))
      end
    end
    return proxy
  elseif type(value) == "table" then
    local copy = {}
    for key, item in pairs(value) do copy[key] = wrap(item) end
    return copy
  end
  return value
end
return wrap
"""


class LuaResolve:
    """A Lua runtime where ``Resolve()`` returns ``resolve`` (a fake) and ``print`` is recorded."""

    def __init__(self, resolve: Any) -> None:
        self.lua = lua51.LuaRuntime(unpack_returned_tuples=True)
        self.printed: list[str] = []
        wrap = self.lua.execute(BINDING, self._has, self._call)
        wrapped = wrap(resolve)
        lua_globals = self.lua.globals()
        lua_globals.Resolve = lambda: wrapped
        lua_globals.print = lambda *parts: self.printed.append(" ".join(str(p) for p in parts))

    @staticmethod
    def _has(obj: Any, name: str) -> bool:
        return name in dir(obj)

    def _to_python(self, value: Any) -> Any:
        if lua51.lua_type(value) == "table":
            keys = list(value.keys())
            if all(isinstance(key, int) for key in keys) and sorted(keys) == list(
                range(1, len(keys) + 1)
            ):
                return [self._to_python(value[key]) for key in sorted(keys)]
            return {key: self._to_python(item) for key, item in value.items()}
        return value

    def _to_lua(self, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return self.lua.table_from([self._to_lua(item) for item in value])
        if isinstance(value, dict):
            return self.lua.table_from({key: self._to_lua(item) for key, item in value.items()})
        return value

    def _call(self, obj: Any, name: str, num_args: int, args: Any) -> Any:
        values = [self._to_python(args[index]) for index in range(1, num_args + 1)]
        return self._to_lua(getattr(obj, name)(*values))

    def run_script(self, path: Path) -> None:
        """Run a Workspace > Scripts Lua file as Resolve does."""
        self.lua.execute(f"dofile([==[{path}]==])")
