-- wrk script: POST /api/links, every request with a url never sent before.
--
-- Usage: wrk ... -s benches/wrk/create.lua URL -- KEY TAG SEED
--   KEY   kurz's API key (sent as "Authorization: Bearer KEY")
--   TAG   a string unique to this run (load.py passes time and run number)
--   SEED  seed for math.random; mixed into each thread's url prefix
--
-- Urls are https://example.com/x/<TAG>-t<thread>-<random>-<counter>, so no
-- two requests of any run ever repeat one. Every response that is not a
-- 201 is counted, by status, and done() prints one line load.py parses:
--   non-201 responses: <count> [<status>=<count> ...]

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  local key, tag = args[1], args[2] or tostring(os.time())
  if not key then
    error("create.lua: the first script argument must be the API key")
  end
  math.randomseed(tonumber(args[3]) or os.time())
  prefix = string.format('{"url":"https://example.com/x/%s-t%d-%08x-',
                         tag, tid or 0, math.random(0, 0x7fffffff))
  headers = {
    ["Authorization"] = "Bearer " .. key,
    ["Content-Type"] = "application/json",
  }
  sent, non201, statuses = 0, 0, {}
end

function request()
  sent = sent + 1
  return wrk.format("POST", "/api/links", headers, prefix .. sent .. '"}')
end

function response(status, _headers, _body)
  if status ~= 201 then
    non201 = non201 + 1
    local s = tostring(status)
    statuses[s] = (statuses[s] or 0) + 1
  end
end

-- Runs in its own Lua state: the per-thread counters come through thread:get.
function done(_summary, _latency, _requests)
  local total, by_status = 0, {}
  for _, t in ipairs(threads) do
    total = total + (t:get("non201") or 0)
    for s, c in pairs(t:get("statuses") or {}) do
      by_status[s] = (by_status[s] or 0) + c
    end
  end
  local parts = {}
  for s, c in pairs(by_status) do
    parts[#parts + 1] = s .. "=" .. c
  end
  table.sort(parts)
  io.write(string.format("non-201 responses: %d [%s]\n", total, table.concat(parts, " ")))
end
