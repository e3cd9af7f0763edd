-- GET /api/v1/agencies: the cheapest endpoint (static list); an upper bound
-- for the HTTP stack itself.
dofile((debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".") .. "/common.lua")

bench_scenario({
  fixed = function()
    return wrk.format("GET", "/api/v1/agencies", { ["Accept"] = "application/json" })
  end,
})
