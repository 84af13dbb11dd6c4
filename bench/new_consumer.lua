-- wrk script: POST /apps/api/v1/sms with a new consumer number on every request, so every
-- request opens a chat (the full write path), never row 12.
-- Environment: SMS_BASIC (base64 of subdomain:token).
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

local area_codes = { "415", "628", "650", "510", "408", "707", "925", "209" }

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
  local number = string.format("+1 %s-%03d-%04d", area_codes[(thread_id % #area_codes) + 1], exchange, line)
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
