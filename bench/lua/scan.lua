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

count_statuses({ 200, 413, 422, 429, 503 })
