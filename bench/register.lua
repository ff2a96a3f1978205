-- One registration per request, each with its own e-mail address; half venue, half online.
-- wrk -s bench/register.lua URL -- RUN_TAG
local threads = 0
local sent = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_no", threads)
end

function init(args)
  tag = args[1] or "run"
end

function request()
  sent = sent + 1
  local mode = (sent % 2 == 0) and "venue" or "online"
  local body = string.format(
    '{"name":"負荷 試験","kana":"フカ シケン","email":"p%d.%d.%s@example.jp","organisation":"試験","mode":"%s"}',
    thread_no, sent, tag, mode)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
