-- Shared by every wrk scenario: auth header, per-thread ids and random seeds, and a
-- machine-readable result line (BENCH_RESULT ...) that bench/load.sh parses.
-- Environment: ROSTER_BENCH_TOKEN (bearer token), BENCH_DATA_DIR (ids.lua / names.lua).

wrk.headers["Authorization"] = "Bearer " .. assert(os.getenv("ROSTER_BENCH_TOKEN"), "ROSTER_BENCH_TOKEN unset")
wrk.headers["Accept"] = "application/scim+json"

data_dir = os.getenv("BENCH_DATA_DIR") or "."

local next_tid = 0
function setup(thread)
   next_tid = next_tid + 1
   thread:set("tid", next_tid)
end

function init(args)
   -- tid is set by setup() before init() runs in the thread's own Lua state.
   math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
   for _ = 1, 10 do math.random() end
end

-- Percent-encodes a query-string value.
function urlencode(s)
   return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function done(summary, latency, requests)
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
      "BENCH_RESULT requests=%d duration_s=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
      "non2xx=%d connect_err=%d read_err=%d write_err=%d timeouts=%d\n",
      summary.requests, secs, summary.requests / secs,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
      latency.max / 1000, e.status, e.connect, e.read, e.write, e.timeout))
end
