-- wrk script: incremental metric polls as a dashboard makes them (only points after a recent step).
local job, key, after = os.getenv("JOB_ID"), os.getenv("API_KEY"), os.getenv("AFTER") or "9990"
wrk.method = "GET"
wrk.path = "/api/v1/jobs/" .. job .. "/metrics?after=" .. after
wrk.headers["Authorization"] = "Bearer " .. key

done = function(summary, latency, requests)
  io.write(string.format('{"requests_per_s": %.1f, "p50_ms": %.2f, "p99_ms": %.2f, "errors": %d, "requests": %d}\n',
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests))
end
