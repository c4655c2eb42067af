-- GET /scim/v2/Users?filter=userName eq "<random seeded userName>".
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
dofile(data_dir .. "/names.lua")

request = function()
   local name = names[math.random(#names)]
   return wrk.format("GET", "/scim/v2/Users?filter=" .. urlencode('userName eq "' .. name .. '"'))
end
