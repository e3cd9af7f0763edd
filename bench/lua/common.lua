-- Shared helpers for the BabyShield wrk scenarios (loaded with dofile by the
-- scenario scripts; each wrk thread has its own Lua state).
--
-- A scenario script calls `bench_scenario{ build = function(line) ... end }`
-- (turns one input line into a complete HTTP request with wrk.format), or
-- `bench_scenario{ fixed = function() ... end }` for a single request.
-- The input file is the last argument after `--` on the wrk command line.
-- Requests rotate through the prepared lines; every thread starts at a
-- different offset so threads do not hit the same rows in lockstep.

local thread_counter = 0

function setup(thread)
  thread:set("thread_id", thread_counter)
  thread_counter = thread_counter + 1
end

local function read_lines(path)
  local lines = {}
  local f = assert(io.open(path, "r"), "cannot open " .. tostring(path))
  for line in f:lines() do
    if line ~= "" then
      lines[#lines + 1] = line
    end
  end
  f:close()
  assert(#lines > 0, path .. " is empty")
  return lines
end

function bench_scenario(spec)
  local requests, index, count = nil, 0, 0

  init = function(args)
    requests = {}
    if spec.fixed then
      requests[1] = spec.fixed()
    else
      for _, line in ipairs(read_lines(args[#args])) do
        requests[#requests + 1] = spec.build(line)
      end
    end
    count = #requests
    index = ((thread_id or 0) * 7919) % count
  end

  request = function()
    index = index % count + 1
    return requests[index]
  end
end

-- One JSON line on stdout, prefixed so the driver can find it among wrk's
-- own summary. Latencies are in microseconds (wrk's unit). `non_2xx` is
-- wrk's status-error counter (responses with status >= 400), the number wrk
-- prints as "Non-2xx or 3xx responses".
function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"bytes":%d,"duration_s":%.3f,"requests_per_sec":%.2f,' ..
    '"non_2xx":%d,"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p95":%d,"p99":%d,"max":%d,"mean":%.1f,"stdev":%.1f}}\n',
    summary.requests, summary.bytes, seconds, summary.requests / seconds,
    e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean, latency.stdev))
end

-- Counts the answers of each listed status (and "other") per thread, in a
-- response() callback, and prints after the run, besides BENCH_RESULT:
--   BENCH_STATUS {"200":n,...,"other":n}   (the listed statuses in order)
-- For scenarios whose rate is bounded elsewhere (logins, photos); the
-- high-rate search scripts avoid the callback.
function count_statuses(statuses)
  local keys = {}
  for _, status in ipairs(statuses) do
    keys[status] = "s" .. status
    _G[keys[status]] = 0
  end
  sother = 0

  response = function(status, resp_headers, body)
    local key = keys[status]
    if key then
      _G[key] = _G[key] + 1
    else
      sother = sother + 1
    end
  end

  local threads = {}
  local previous_setup, previous_done = setup, done

  setup = function(thread)
    previous_setup(thread)
    threads[#threads + 1] = thread
  end

  done = function(summary, latency, requests)
    previous_done(summary, latency, requests)
    local total = function(key)
      local n = 0
      for _, thread in ipairs(threads) do
        n = n + (tonumber(thread:get(key)) or 0)
      end
      return n
    end
    local parts = {}
    for _, status in ipairs(statuses) do
      parts[#parts + 1] = string.format('"%d":%d', status, total(keys[status]))
    end
    parts[#parts + 1] = string.format('"other":%d', total("sother"))
    io.write("BENCH_STATUS {" .. table.concat(parts, ",") .. "}\n")
  end
end
