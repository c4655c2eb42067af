-- GET /scim/v2/Users?startIndex=<random 1..BENCH_PAGE_MAX_START>&count=100: a 100-user page.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local max_start = tonumber(os.getenv("BENCH_PAGE_MAX_START") or "9900")

request = function()
   return wrk.format("GET", "/scim/v2/Users?startIndex=" .. math.random(1, max_start) .. "&count=100")
end
