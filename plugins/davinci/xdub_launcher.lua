-- The Lua launcher of xdub for free DaVinci Resolve 21.1+, where Workspace > Scripts lists only
-- Lua. It starts the stdlib-only Python helper (xdub_lua_host.py) and serves Resolve's API to
-- it: each line the helper prints is a JSON request; the answer goes to <reply_dir>/<id>.json
-- (written under a temporary name, then renamed). See xdub_resolve/lua_host.py for the messages.
-- Lua 5.1, no libraries beyond io/os/string/table.

local json = {}
json.null = setmetatable({}, { __tostring = function() return "null" end })

local escapes = { ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
                  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }

local function is_array(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  for i = 1, n do if t[i] == nil then return false end end
  return true, n
end

function json.encode(value)
  local kind = type(value)
  if value == nil or value == json.null then return "null"
  elseif kind == "boolean" then return tostring(value)
  elseif kind == "number" then
    if value ~= value or value == math.huge or value == -math.huge then return "null" end
    if value == math.floor(value) and math.abs(value) < 2^53 then
      return string.format("%d", value)
    end
    return string.format("%.17g", value)
  elseif kind == "string" then
    return '"' .. value:gsub('[%c"\\]', function(c)
      return escapes[c] or string.format("\\u%04x", c:byte())
    end) .. '"'
  elseif kind == "table" then
    local array, n = is_array(value)
    local parts = {}
    if array then
      for i = 1, n do parts[i] = json.encode(value[i]) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    for key, item in pairs(value) do
      parts[#parts + 1] = json.encode(tostring(key)) .. ":" .. json.encode(item)
    end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  error("cannot encode a " .. kind)
end

local function utf8_char(code)
  -- the UTF-8 bytes of one code point (a lone surrogate becomes U+FFFD)
  if code >= 0xD800 and code < 0xE000 then code = 0xFFFD end
  if code < 0x80 then return string.char(code) end
  if code < 0x800 then
    return string.char(0xC0 + math.floor(code / 0x40), 0x80 + code % 0x40)
  end
  if code < 0x10000 then
    return string.char(0xE0 + math.floor(code / 0x1000), 0x80 + math.floor(code / 0x40) % 0x40,
      0x80 + code % 0x40)
  end
  return string.char(0xF0 + math.floor(code / 0x40000), 0x80 + math.floor(code / 0x1000) % 0x40,
    0x80 + math.floor(code / 0x40) % 0x40, 0x80 + code % 0x40)
end

function json.decode(text)
  local pos = 1
  local function space() pos = text:find("[^ \t\r\n]", pos) or (#text + 1) end
  local value
  local function str()
    local parts = {}
    pos = pos + 1
    while true do
      local c = text:sub(pos, pos)
      if c == "" then error("unterminated string") end
      if c == '"' then pos = pos + 1; return table.concat(parts) end
      if c == "\\" then
        local e = text:sub(pos + 1, pos + 1)
        local simple = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }
        if e == "u" then
          local code = tonumber(text:sub(pos + 2, pos + 5), 16)
          pos = pos + 6
          local low = text:sub(pos, pos + 1) == "\\u" and tonumber(text:sub(pos + 2, pos + 5), 16)
          if code >= 0xD800 and code < 0xDC00 and low and low >= 0xDC00 and low < 0xE000 then
            -- a surrogate pair (Python's ensure_ascii JSON): one code point beyond U+FFFF
            code = 0x10000 + (code - 0xD800) * 1024 + (low - 0xDC00)
            pos = pos + 6
          end
          parts[#parts + 1] = utf8_char(code)
        else
          parts[#parts + 1] = simple[e] or e
          pos = pos + 2
        end
      else
        parts[#parts + 1] = c
        pos = pos + 1
      end
    end
  end
  function value()
    space()
    local c = text:sub(pos, pos)
    if c == "{" then
      local obj = {}
      pos = pos + 1; space()
      if text:sub(pos, pos) == "}" then pos = pos + 1; return obj end
      while true do
        space(); local key = str(); space()
        pos = pos + 1 -- ':'
        obj[key] = value(); space()
        local d = text:sub(pos, pos); pos = pos + 1
        if d == "}" then return obj end
      end
    elseif c == "[" then
      local arr = { n = 0 }
      pos = pos + 1; space()
      if text:sub(pos, pos) == "]" then pos = pos + 1; return arr end
      while true do
        arr.n = arr.n + 1
        arr[arr.n] = value(); space()
        local d = text:sub(pos, pos); pos = pos + 1
        if d == "]" then return arr end
      end
    elseif c == '"' then return str()
    elseif text:sub(pos, pos + 3) == "true" then pos = pos + 4; return true
    elseif text:sub(pos, pos + 4) == "false" then pos = pos + 5; return false
    elseif text:sub(pos, pos + 3) == "null" then pos = pos + 4; return json.null
    end
    local number = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
    if not number or number == "" then error("bad JSON at " .. pos) end
    pos = pos + #number
    return tonumber(number)
  end
  return value()
end

local function quote(text)
  return '"' .. text .. '"'
end

return function(plugin_dir, python, command)
  local resolve_app = resolve or Resolve()
  local sep = package.config:sub(1, 1)
  local objects = { [0] = resolve_app }
  local next_id = 1

  local function encode_result(value)
    if type(value) == "userdata" then
      objects[next_id] = value
      next_id = next_id + 1
      return { ["$obj"] = next_id - 1 }
    elseif type(value) == "table" then
      local copy = {}
      for key, item in pairs(value) do copy[key] = encode_result(item) end
      return copy
    end
    return value
  end

  local function decode_arg(value)
    if value == json.null then return nil end
    if type(value) == "table" then
      if value["$obj"] ~= nil then return objects[value["$obj"]] end
      local copy = {}
      for key, item in pairs(value) do
        if key ~= "n" then copy[key] = decode_arg(item) end
      end
      return copy
    end
    return value
  end

  local function handle(message)
    local obj = objects[message.obj]
    if obj == nil then error("unknown object " .. tostring(message.obj)) end
    if message.op == "probe" then
      local present = {}
      for i = 1, message.names.n do
        if obj[message.names[i]] ~= nil then present[#present + 1] = message.names[i] end
      end
      return present
    end
    local method = obj[message.method]
    if method == nil then return nil end -- like the Python binding: a missing method gives None
    local args = {}
    for i = 1, message.args.n do args[i] = decode_arg(message.args[i]) end
    return encode_result(method(obj, unpack(args, 1, message.args.n)))
  end

  local script = plugin_dir .. sep .. "xdub_lua_host.py"
  local line_command = quote(python) .. " " .. quote(script) .. " " .. command
  if sep == "\\" then line_command = '"' .. line_command .. '"' end -- cmd.exe /c quoting
  local pipe = assert(io.popen(line_command, "r"))
  local reply_dir = nil
  for line in pipe:lines() do
    local ok, message = pcall(json.decode, line)
    if ok and type(message) == "table" then
      if message.op == "hello" then
        reply_dir = message.reply_dir
      elseif message.op == "print" then
        print(message.text)
      elseif message.op == "exit" then
        break
      elseif reply_dir ~= nil then
        local done, result = pcall(handle, message)
        local reply = done and { id = message.id, result = result }
          or { id = message.id, error = tostring(result) }
        local path = reply_dir .. sep .. tostring(message.id) .. ".json"
        local stream = assert(io.open(path .. ".tmp", "w"))
        stream:write(json.encode(reply))
        stream:close()
        assert(os.rename(path .. ".tmp", path))
      end
    end
  end
  pipe:close()
end
