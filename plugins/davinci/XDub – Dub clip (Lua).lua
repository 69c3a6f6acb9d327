-- Workspace > Scripts > "XDub – Dub clip (Lua)": for free Resolve 21.1+, which lists only Lua
-- scripts. Installed by `xdub plugins install resolve`, which writes the two paths below.
local PLUGIN_DIR = debug.getinfo(1, "S").source:match("^@(.*)[/\\]") -- xdub:plugin-dir
local PYTHON = "python3" -- xdub:python
dofile(PLUGIN_DIR .. "/xdub_launcher.lua")(PLUGIN_DIR, PYTHON, "dub")
