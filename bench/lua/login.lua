-- POST /api/v1/auth/token (OAuth2 password grant, form-urlencoded), rotating
-- through the correct credentials of the accounts bench/login registered
-- (logins.txt: one pre-encoded body per line, `username=...&password=...`).
--
-- Only correct passwords: failed logins are throttled per (account, client)
-- and per client after a few failures, and every request here comes from
-- 127.0.0.1; a successful login clears its pair's counter.
--
-- Besides common.lua's BENCH_RESULT line this prints
--   BENCH_STATUS {"200":n,"401":n,"429":n,"503":n,"other":n}
-- counted in a response() callback (cheap enough at login rates, which are
-- bounded by Argon2id; the search scripts avoid the callback).
dofile((debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".") .. "/common.lua")

local headers = {
  ["Content-Type"] = "application/x-www-form-urlencoded",
  ["Accept"] = "application/json",
}

bench_scenario({ build = function(body)
  return wrk.format("POST", "/api/v1/auth/token", headers, body)
end })

-- Per-thread counters (globals of each thread's Lua state, read in done()
-- through thread:get).
s200, s401, s429, s503, sother = 0, 0, 0, 0, 0

function response(status, resp_headers, body)
  if status == 200 then
    s200 = s200 + 1
  elseif status == 503 then
    s503 = s503 + 1
  elseif status == 429 then
    s429 = s429 + 1
  elseif status == 401 then
    s401 = s401 + 1
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
  local t = { s200 = 0, s401 = 0, s429 = 0, s503 = 0, sother = 0 }
  for _, thread in ipairs(threads) do
    for k in pairs(t) do
      t[k] = t[k] + (tonumber(thread:get(k)) or 0)
    end
  end
  io.write(string.format('BENCH_STATUS {"200":%d,"401":%d,"429":%d,"503":%d,"other":%d}\n',
    t.s200, t.s401, t.s429, t.s503, t.sother))
end
