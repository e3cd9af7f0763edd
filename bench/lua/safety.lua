-- POST /api/v1/safety-check, rotating through prepared JSON bodies (used by
-- bench/family): `{"barcode": "..."}` for the anonymous scenario, plus
-- `"memberId"` for the member scenario, which also needs a bearer token.
--
--   wrk ... -s safety.lua URL -- BODIES_FILE [ACCESS_TOKEN]
dofile((debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or ".") .. "/common.lua")

local headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }

bench_scenario({ build = function(body)
  return wrk.format("POST", "/api/v1/safety-check", headers, body)
end })

local common_init = init
init = function(args)
  if args[2] and args[2] ~= "" then
    headers["Authorization"] = "Bearer " .. args[2]
  end
  common_init({ args[1] })
end
