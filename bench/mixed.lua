-- Mixed workload shaped like the mobile app's real use (see bench/load_bench.py):
-- mostly timetable revalidations, some full reads, and signed-in calls (me, subscriptions, inbox).
-- Tokens come from the environment (BENCH_TOKENS, space-separated), ETags from BENCH_ETAG_*.
local tokens = {}
for token in string.gmatch(os.getenv("BENCH_TOKENS") or "", "%S+") do tokens[#tokens + 1] = token end
local schedule_etag = os.getenv("BENCH_ETAG_SCHEDULE") or ""
local periods_etag = os.getenv("BENCH_ETAG_PERIODS") or ""

-- cumulative weights (percent)
local mix = {
  {55, "GET", "/api/course-schedule", {["If-None-Match"] = schedule_etag, ["Accept-Encoding"] = "gzip"}, false},
  {65, "GET", "/api/course-schedule", {["Accept-Encoding"] = "gzip"}, false},
  {70, "GET", "/api/examination-periods", {["If-None-Match"] = periods_etag}, false},
  {80, "GET", "/api/me", {}, true},
  {90, "GET", "/api/course-schedule-student-subscriptions", {["Accept-Encoding"] = "gzip"}, true},
  {100, "GET", "/api/notifications", {}, true},
}

math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0))

request = function()
  local roll = math.random(1, 100)
  for _, row in ipairs(mix) do
    if roll <= row[1] then
      local headers = {}
      for name, value in pairs(row[4]) do headers[name] = value end
      if row[5] then headers["Authorization"] = "Bearer " .. tokens[math.random(1, #tokens)] end
      return wrk.format(row[2], row[3], headers)
    end
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"errors_connect":%d,"errors_read":%d,"errors_write":%d,' ..
    '"errors_status":%d,"errors_timeout":%d,"latency_p50_us":%d,"latency_p99_us":%d,"latency_max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
