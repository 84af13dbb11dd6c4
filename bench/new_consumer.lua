-- wrk script: POST /apps/api/v1/sms with a new consumer number on every request, so every
-- request opens a chat (the full write path), never row 12.
-- Environment: SMS_BASIC (base64 of subdomain:token); SMS_BENCH_RUN (0, 1, 2, ...) gives each
-- run of wrk numbers of its own, so a run never repeats an earlier run's consumers; each wrk
-- thread has an area code of its own.
local threads = {}

-- `thread_id` is a global of each thread's Lua state, set here; a `local` would shadow it.
function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

local area_codes = { "415", "628", "650", "510", "408", "707", "925", "209" }

run = tonumber(os.getenv("SMS_BENCH_RUN") or "0")
-- Each run starts a million requests further on; a thread sends a few thousand a second, so
-- runs do not meet until the numbering wraps after eight of them.
counter = run * 1000000

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Basic " .. os.getenv("SMS_BASIC")
end

function request()
  counter = counter + 1
  -- NXX-XXXX with NXX from 200 to 999: 8 million numbers per area code.
  local exchange = 200 + math.floor(counter / 10000) % 800
  local line = counter % 10000
  local number = string.format("+1 %s-%03d-%04d", area_codes[((thread_id or 0) % #area_codes) + 1], exchange, line)
  local body = string.format(
    '{"chat_type":"Messaging (SMS)","end_user_number":"%s","outbound_number":"+1 628-555-0199","message":"lorem ipsum"}',
    number)
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  io.write(string.format("BENCH requests=%d duration_s=%.2f rps=%.1f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
