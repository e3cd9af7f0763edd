-- GET /api/v1/lookup/barcode/{code}, rotating through barcodes.txt (codes of
-- the data set plus 10 % valid codes that match no recall).
dofile((debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".") .. "/common.lua")

local headers = { ["Accept"] = "application/json" }

bench_scenario({ build = function(code)
  return wrk.format("GET", "/api/v1/lookup/barcode/" .. code, headers)
end })
