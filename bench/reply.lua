-- wrk script: POST /apps/api/v1/chats/{id}/messages, an agent's reply inside an open chat, round
-- robin over the chats CHAT_FIRST to CHAT_LAST (each wrk thread starts at its own offset).
-- Environment: SMS_BASIC (base64 of subdomain:token), CHAT_FIRST, CHAT_LAST.
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

first = tonumber(os.getenv("CHAT_FIRST") or "1")
last = tonumber(os.getenv("CHAT_LAST") or "1")
counter = 0

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Basic " .. os.getenv("SMS_BASIC")
  counter = (thread_id or 0) * 7919
end

function request()
  counter = counter + 1
  local id = first + counter % (last - first + 1)
  return wrk.format(nil, "/apps/api/v1/chats/" .. id .. "/messages", nil, '{"message":"Your order shipped today."}')
end

function done(summary, latency, requests)
  io.write(string.format("BENCH requests=%d duration_s=%.2f rps=%.1f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
