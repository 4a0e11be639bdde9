-- wrk script: incremental metric polls (as the dashboard makes them) from many API keys: each request takes the next key
-- of KEYS_FILE (one per line), each thread from its own offset. Counts answers by status, so polls served (2xx) and
-- polls refused by the per-key rate limit (429) are told apart.
local job, after = os.getenv("JOB_ID"), os.getenv("AFTER") or "1990"
local path = "/api/v1/jobs/" .. job .. "/metrics?after=" .. after
local keys = {}
for line in io.lines(os.getenv("KEYS_FILE")) do keys[#keys + 1] = line end
local threads = {}

function setup(thread)
  thread:set("offset", #threads * 7919)
  table.insert(threads, thread)
end

function init(args)
  n = offset or 0
  ok, limited, other = 0, 0, 0
end

function request()
  n = n + 1
  return wrk.format("GET", path, { Authorization = "Bearer " .. keys[(n % #keys) + 1] })
end

function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1 elseif status == 429 then limited = limited + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local served, refused, failed = 0, 0, 0
  for _, t in ipairs(threads) do
    served = served + t:get("ok"); refused = refused + t:get("limited"); failed = failed + t:get("other")
  end
  local seconds = summary.duration / 1e6
  io.write(string.format('{"keys": %d, "requests_per_s": %.1f, "served_per_s": %.1f, "refused_429_per_s": %.1f, "other_status": %d, "p50_ms": %.2f, "p99_ms": %.2f, "socket_errors": %d}\n',
    #keys, summary.requests / seconds, served / seconds, refused / seconds, failed, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
