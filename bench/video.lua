-- wrk script for bench.video: GET one file (a segment or the playlist); print the figures,
-- bytes included (what went over the wire, headers too), as one JSON line.

function done(summary, latency, requests)
  io.write(string.format(
    "RESULT {\"requests\": %d, \"bytes\": %d, \"duration_us\": %d, \"non_2xx\": %d, " ..
    "\"socket_errors\": %d, \"p50_us\": %d, \"p99_us\": %d}\n",
    summary.requests, summary.bytes, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
