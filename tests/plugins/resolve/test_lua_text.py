"""Text through the Lua launcher (free Resolve 21.1+): names with emoji and CJK arrive intact in
Resolve and back in Python. The helper here drives the real ``LuaChannel`` and the real
launcher; Resolve is the fake behind a real Lua 5.1."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from fake_resolve import FREE
from lua_binding import LuaResolve
from resolve_scenario import Media, make_project

NAMES = ["plain", "Edit 🎬", "編集 タイムライン", "mixed 🎬 編集 é"]
HELPER = textwrap.dedent(
    """
    import json, sys, tempfile
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from xdub_resolve.lua_host import LuaChannel, RemoteObject
    channel = LuaChannel(sys.stdout, Path(tempfile.mkdtemp()))
    channel.send({"op": "hello", "reply_dir": str(channel.reply_dir)})
    pool = RemoteObject(channel, 0).GetProjectManager().GetCurrentProject().GetMediaPool()
    for name in json.loads(sys.argv[2]):
        folder = pool.AddSubFolder(pool.GetRootFolder(), name)
        channel.send({"op": "print", "text": folder.GetName()})
    channel.send({"op": "exit", "code": 0})
    """
)


@pytest.mark.parametrize("name", NAMES)
def test_non_bmp_and_cjk_names_survive_the_lua_path(
    installed: Path, media: Media, tmp_path: Path, name: str
) -> None:
    import json

    project = make_project(media, FREE, (21, 1, 0))
    plugin = installed / "XDub"
    helper = tmp_path / "helper.py"
    helper.write_text(HELPER, encoding="utf-8")
    lua = LuaResolve(project.resolve)
    # the launcher runs `<python> <plugin>/xdub_lua_host.py <command>`: the helper instead
    (plugin / "xdub_lua_host.py").write_text(
        f"import runpy, sys\nsys.argv = [{str(helper)!r}, {str(plugin)!r}, sys.argv[1]]\n"
        f"runpy.run_path({str(helper)!r}, run_name='__main__')\n",
        encoding="utf-8",
    )
    launcher = plugin / "xdub_launcher.lua"
    argument = json.dumps([name])
    lua.lua.execute(
        f"dofile([==[{launcher}]==])([==[{plugin}]==], [==[{sys.executable}]==], "
        f"[==['{argument}']==])"
    )
    pool = project.resolve.GetProjectManager().GetCurrentProject().GetMediaPool()
    assert [folder.GetName() for folder in pool.GetRootFolder().GetSubFolderList()] == [name]
    assert lua.printed == [name]
