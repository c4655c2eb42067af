-- POST /scim/v2/Users with a unique userName per request: run tag + wrk thread id + counter.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local run = os.getenv("BENCH_RUN_TAG") or tostring(os.time())
local counter = 0

wrk.headers["Content-Type"] = "application/scim+json"

request = function()
   counter = counter + 1
   local name = string.format("bench-%s-t%d-%d@example.com", run, tid or 0, counter)
   local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],' ..
      '"userName":"' .. name .. '",' ..
      '"displayName":"Bench User ' .. counter .. '",' ..
      '"name":{"givenName":"Bench","familyName":"User' .. counter .. '"},' ..
      '"emails":[{"value":"' .. name .. '","type":"work","primary":true}],' ..
      '"active":true}'
   return wrk.format("POST", "/scim/v2/Users", nil, body)
end
