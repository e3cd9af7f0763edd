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

count_statuses({ 200, 401, 429, 503 })
