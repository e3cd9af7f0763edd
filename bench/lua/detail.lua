-- GET /api/v1/recall/{id}, rotating through ids.txt. Ids match
-- [A-Za-z0-9/_\-.]+ and go into the path as they are (EU ids contain '/').
dofile((debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".") .. "/common.lua")

local headers = { ["Accept"] = "application/json" }

bench_scenario({ build = function(id)
  return wrk.format("GET", "/api/v1/recall/" .. id, headers)
end })
