-- wrk script for bench_scans.py: every request is the FIRST scan of a distinct ticket.
-- Environment: SCAN_CODES (file, one ticket code a line), SCAN_PATH (the scans URL path),
-- SCAN_TOKENS (kiosk tokens, comma-separated: thread n uses token n), SCAN_THREADS (wrk -t),
-- SCAN_RECORD (optional: a directory; each thread writes the scan_id of every `ok` answer there,
-- line by line, so a kill -9 of the server can be checked against what was answered).

local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

function init(args)
  local threads = tonumber(os.getenv("SCAN_THREADS"))
  local tokens = {}
  for token in string.gmatch(os.getenv("SCAN_TOKENS"), "[^,]+") do
    table.insert(tokens, token)
  end
  path = os.getenv("SCAN_PATH")
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[(tid % #tokens) + 1],
  }
  codes = {}
  local line_no = 0
  for line in io.lines(os.getenv("SCAN_CODES")) do
    if line_no % threads == tid then
      table.insert(codes, line)
    end
    line_no = line_no + 1
  end
  next_code = 0
  local record = os.getenv("SCAN_RECORD")
  if record and record ~= "" then
    oks = io.open(record .. "/oks-" .. tid .. ".txt", "w")
    oks:setvbuf("line")
  end
end

function request()
  next_code = next_code + 1
  local code = codes[next_code]
  if code == nil then
    wrk.thread:stop()
    code = codes[1]
  end
  local body = '{"code":"' .. code .. '","scan_id":"w' .. tid .. "-" .. next_code .. '"}'
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  if oks and status == 200 and string.find(body, '"result":"ok"', 1, true) then
    oks:write(string.match(body, '"scan_id":"([^"]+)"'), "\n")
  end
end

function done(summary, latency, requests)
  io.write(string.format(
    "RESULT requests=%d duration_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
