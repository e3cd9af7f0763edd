-- POST /api/v1/search/advanced, rotating through prepared JSON bodies
-- (search.txt: one body per line, e.g. {"query":"crib","limit":20}).
dofile((debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".") .. "/common.lua")

local headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }

bench_scenario({ build = function(body)
  return wrk.format("POST", "/api/v1/search/advanced", headers, body)
end })
