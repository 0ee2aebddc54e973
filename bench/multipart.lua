-- wrk script: POST pre-built multipart bodies (one per image), rotating, and print a JSON summary.
-- Arguments after `--`: <folder of body_NNN.bin> <count> <boundary>
local bodies = {}
local headers = {}
local index = 0

function init(args)
  local folder, count, boundary = args[1], tonumber(args[2]), args[3]
  for i = 0, count - 1 do
    local f = assert(io.open(string.format("%s/body_%03d.bin", folder, i), "rb"))
    bodies[#bodies + 1] = f:read("*a")
    f:close()
  end
  headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
end

function request()
  index = index % #bodies + 1
  return wrk.format("POST", nil, headers, bodies[index])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'JSON {"requests": %d, "duration_us": %d, "bytes": %d, "errors_connect": %d, "errors_read": %d, ' ..
    '"errors_write": %d, "errors_status": %d, "errors_timeout": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "mean_us": %.1f, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
