-- wrk script for bench.media: GET one stored picture, with `If-None-Match: <args[1]>` when
-- given (the 304 path); print the figures as one JSON line, as bench/video.lua does.

function init(args)
  if args[1] ~= nil and args[1] ~= "" then
    wrk.headers["If-None-Match"] = args[1]
  end
end

function done(summary, latency, requests)
  io.write(string.format(
    "RESULT {\"requests\": %d, \"bytes\": %d, \"duration_us\": %d, \"non_2xx\": %d, " ..
    "\"socket_errors\": %d, \"p50_us\": %d, \"p99_us\": %d}\n",
    summary.requests, summary.bytes, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
