-- POST /api/v1/scan/image with prebuilt multipart/form-data bodies (used by
-- bench/family). The input file lists one body file per line (a `photo`
-- part holding a JPEG, written by bench/lib/family_client.py with the
-- boundary below); each thread reads every body once in init() and then
-- rotates through them like common.lua does.
--
--   wrk ... -s scan.lua URL -- BODY_LIST_FILE
--
-- Besides common.lua's BENCH_RESULT line this prints
--   BENCH_STATUS {"200":n,"413":n,"422":n,"429":n,"503":n,"other":n}
-- counted in a response() callback (cheap at photo rates).
dofile((debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".") .. "/common.lua")

-- Must match BOUNDARY in bench/lib/family_client.py.
local boundary = "babyshield-bench-photo-boundary-7d1f5a"
local headers = {
  ["Content-Type"] = "multipart/form-data; boundary=" .. boundary,
  ["Accept"] = "application/json",
}

bench_scenario({ build = function(path)
  local f = assert(io.open(path, "rb"), "cannot open " .. path)
  local body = f:read("*a")
  f:close()
  assert(#body > 0, path .. " is empty")
  return wrk.format("POST", "/api/v1/scan/image", headers, body)
end })

s200, s413, s422, s429, s503, sother = 0, 0, 0, 0, 0, 0

function response(status, resp_headers, body)
  if status == 200 then
    s200 = s200 + 1
  elseif status == 503 then
    s503 = s503 + 1
  elseif status == 422 then
    s422 = s422 + 1
  elseif status == 413 then
    s413 = s413 + 1
  elseif status == 429 then
    s429 = s429 + 1
  else
    sother = sother + 1
  end
end

local threads = {}
local common_setup, common_done = setup, done

function setup(thread)
  common_setup(thread)
  threads[#threads + 1] = thread
end

function done(summary, latency, requests)
  common_done(summary, latency, requests)
  local t = { s200 = 0, s413 = 0, s422 = 0, s429 = 0, s503 = 0, sother = 0 }
  for _, thread in ipairs(threads) do
    for k in pairs(t) do
      t[k] = t[k] + (tonumber(thread:get(k)) or 0)
    end
  end
  io.write(string.format('BENCH_STATUS {"200":%d,"413":%d,"422":%d,"429":%d,"503":%d,"other":%d}\n',
    t.s200, t.s413, t.s422, t.s429, t.s503, t.sother))
end
