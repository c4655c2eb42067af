-- Diagnostic: GET /scim/v2/Users?startIndex=1&count=100, the first 100-user page. Compared with
-- page.lua (random startIndex) it separates the OFFSET scan from rendering 100 users.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

request = function()
   return wrk.format("GET", "/scim/v2/Users?startIndex=1&count=100")
end
