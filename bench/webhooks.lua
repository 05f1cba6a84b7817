-- wrk script for bench/webhooks.py: replays pre-signed Twilio webhook requests from a file (one per
-- line: path, form body and X-Twilio-Signature, separated by tabs), in order, wrapping at the end.
-- Prints one line of JSON at the end for the Python side to read. (No response() callback: wrk
-- would then parse every body; bench/webhooks.py checks the documents before the timed runs.)
local requests = {}
local next_request = 0

function init(args)
  for line in io.lines(args[1]) do
    local path, body, signature = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)$")
    requests[#requests + 1] = wrk.format("POST", path, {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["X-Twilio-Signature"] = signature,
    }, body)
  end
end

function request()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

function done(summary, latency, requests_)
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
