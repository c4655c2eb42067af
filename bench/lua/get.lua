-- GET /scim/v2/Users/{id} for random ids of the seeded set.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
dofile(data_dir .. "/ids.lua")

request = function()
   return wrk.format("GET", "/scim/v2/Users/" .. ids[math.random(#ids)])
end
