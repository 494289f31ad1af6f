-- wrk script for bench.ingest_webhook: cycle through pre-signed generic-webhook bodies.
-- Signing HMAC-SHA256 per request in wrk's LuaJIT has no library; the bench writes a
-- pool of distinct signed bodies (distinct message ids, so none is deduped) instead.
-- args: <pool file> <threads> <path>; pool lines: <timestamp>\t<signature>\t<body>

local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

function init(args)
  pool = {}
  for line in io.lines(args[1]) do
    local ts, sig, body = line:match("^(%d+)\t([^\t]+)\t(.*)$")
    pool[#pool + 1] = { ts, sig, body }
  end
  step = tonumber(args[2])
  path = args[3]
  i = tid -- each thread takes every step-th body, so no two threads send the same one
end

function request()
  local entry = pool[(i % #pool) + 1]
  i = i + step
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    ["X-Qunlive-Timestamp"] = entry[1],
    ["X-Qunlive-Signature"] = entry[2],
  }, entry[3])
end

function done(summary, latency, requests)
  io.write(string.format(
    "RESULT {\"requests\": %d, \"duration_us\": %d, \"non_2xx\": %d, \"socket_errors\": %d, " ..
    "\"p50_us\": %d, \"p99_us\": %d}\n",
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
