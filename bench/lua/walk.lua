-- POST /api/v1/search/advanced, walking a file of JSON bodies in order (used
-- by bench/cache). Unlike common.lua's rotation, the file is split into one
-- slice per wrk thread: thread i of T starts at line i * count / T + 1 and
-- walks on from there, so as long as no thread sends more than count / T
-- requests, no line is sent twice in a run (the overhead phase relies on it:
-- all different bodies = all cache misses) and a sampled sequence (the Zipf
-- phase) is replayed as drawn.
--
--   wrk ... -s walk.lua URL -- FILE THREADS
--
-- Besides common.lua's BENCH_RESULT line this prints
--   BENCH_WALK {"threads":[{"start":S,"sent":K},...]}
-- (start 0-based; sent = requests the thread generated, including the few
-- still in flight when wrk stopped), from which bench/cache tells whether a
-- thread wrapped into lines already sent and which lines were walked.
dofile((debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".") .. "/common.lua")

local headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }
local requests, count, index = nil, 0, 0
start_line, sent = 0, 0

init = function(args)
  local path, threads = args[1], tonumber(args[2]) or 1
  requests = {}
  -- Formatted once per distinct body: a Zipf sequence repeats a few thousand
  -- bodies, and wrk starts thread 1 only after thread 0's init (which would
  -- otherwise give thread 0 a head start of a noticeable fraction of a second).
  local formatted = {}
  local f = assert(io.open(path, "r"), "cannot open " .. tostring(path))
  for line in f:lines() do
    if line ~= "" then
      local req = formatted[line]
      if not req then
        req = wrk.format("POST", "/api/v1/search/advanced", headers, line)
        formatted[line] = req
      end
      requests[#requests + 1] = req
    end
  end
  f:close()
  count = #requests
  assert(count > 0, path .. " is empty")
  start_line = math.floor((thread_id or 0) * count / threads)
  index = start_line
end

request = function()
  sent = sent + 1
  index = index % count + 1
  return requests[index]
end

local threads = {}
local common_setup, common_done = setup, done

function setup(thread)
  common_setup(thread)
  threads[#threads + 1] = thread
end

function done(summary, latency, reqs)
  common_done(summary, latency, reqs)
  local parts = {}
  for _, thread in ipairs(threads) do
    parts[#parts + 1] = string.format('{"start":%d,"sent":%d}',
      tonumber(thread:get("start_line")) or 0, tonumber(thread:get("sent")) or 0)
  end
  io.write(string.format('BENCH_WALK {"threads":[%s]}\n', table.concat(parts, ",")))
end
