#!/usr/bin/env bash
# The console's list pages with a large tenant: how long does the server take to render them?
#
#   bench/console.sh [CHATS]    (default 100000)
#
# A release sms-server on PostgreSQL; one tenant with CHATS chats (written straight into the
# database: a consumer each, a last message each, a third of them assigned to one of 20 agents,
# a tenth still active, their activity spread over a year) and 2,000 opt-outs. A supervisor and
# an agent sign in; each list page is asked for 9 times and the median time to the first byte
# printed (on loopback, that is the server's time: the session read, the page's queries and the
# rendering). The goal (SPEC section 14): under 100 ms. Run by hand, not by CI; BENCHMARKS.md
# records results.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

chats=${1:-100000}
ensure_postgres
cargo build -q --locked --release -p sms-server --bin sms-server
BIN=target/release/sms-server

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
db="sms_console_$$"
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  psql "$SMS_TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export SMS_JWT_SECRET; SMS_JWT_SECRET=$(openssl rand -hex 32)
psql "$SMS_TEST_POSTGRES_URL" -qc "CREATE DATABASE $db" >/dev/null
DB_URL="${SMS_TEST_POSTGRES_URL%/*}/$db"
PORT=$(free_port)
DATABASE_URL="$DB_URL" SMS_BIND="127.0.0.1:$PORT" SMS_LOG=warn SMS_DELIVERY_WORKER=off SMS_EVENTS_WORKER=off \
  "$BIN" >"$work/server.out" 2>"$work/server.err" &
pid=$!
B="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do curl -sf "$B/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
ADMIN=$("$BIN" admin-token --ttl 600)
api() { curl -sf -X "$1" "$B$2" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' ${3:+-d "$3"}; }
api POST /admin/v1/tenants '{"subdomain": "bench", "name": "Bench", "rate_limit_per_second": 0}' >/dev/null
api POST /admin/v1/tenants/bench/outbound-numbers '{"number": "+16285550199"}' >/dev/null
for n in $(seq 1 20); do
  api POST /admin/v1/tenants/bench/agents "{\"email\": \"agent$n@bench.test\", \"first_name\": \"Agent\", \"last_name\": \"$n\"}" >/dev/null
done
api PUT /admin/v1/tenants/bench/agents/1/password '{"password": "bench console password"}' >/dev/null
api PATCH /admin/v1/tenants/bench/agents/1 '{"console_role": "supervisor"}' >/dev/null
api PUT /admin/v1/tenants/bench/agents/2/password '{"password": "bench console password"}' >/dev/null

log "writing $chats chats"
psql "$DB_URL" -q <<SQL
INSERT INTO end_users (tenant_id, number, created_at)
  SELECT t.id, '+1415' || lpad(n::text, 7, '0'), now() FROM tenants t, generate_series(1, $chats) n;
INSERT INTO chats (tenant_id, end_user_id, agent_id, chat_type, lang, status, outbound_number, disconnected_by,
                   created_at, last_activity_at, expires_at, updated_at, ends_at)
  SELECT e.tenant_id, e.id, CASE WHEN e.id % 3 = 0 THEN 1 + e.id % 20 END, 'Messaging (SMS)', 'en',
         CASE WHEN e.id % 10 = 0 THEN (CASE WHEN e.id % 3 = 0 THEN 'assigned' ELSE 'selecting' END) ELSE 'finished' END,
         '+16285550199', 'disconnected_by_agent', a.at, a.at, a.at + interval '1 day', a.at,
         CASE WHEN e.id % 10 = 0 THEN NULL ELSE a.at END
  FROM end_users e, LATERAL (SELECT timestamp '2026-01-01' + random() * interval '330 days' + e.id * interval '0 s' AS at) a;
UPDATE chats SET expires_at = now() + interval '1 day' WHERE ends_at IS NULL;
INSERT INTO messages (chat_id, tenant_id, direction, body, segments, delivery_status, created_at, updated_at,
                      from_number, to_number)
  SELECT c.id, c.tenant_id, CASE WHEN c.id % 2 = 0 THEN 'inbound' ELSE 'outbound' END, 'lorem ipsum dolor', 1,
         CASE WHEN c.id % 2 = 0 THEN 'received' ELSE 'delivered' END, c.last_activity_at, c.last_activity_at,
         '+16285550199', '+14155550100' FROM chats c;
INSERT INTO opt_outs (tenant_id, number, created_at, keyword, outbound_number)
  SELECT t.id, '+1415' || lpad(n::text, 7, '0'), now(), 'STOP', '+16285550199' FROM tenants t, generate_series(1, 2000) n;
VACUUM ANALYZE;
SQL

sign_in() { # sign_in EMAIL -> the cookie
  curl -s -o /dev/null -c - -X POST "$B/console/login" --data-urlencode kind=agent --data-urlencode subdomain=bench \
    --data-urlencode "email=$1" --data-urlencode "password=bench console password" | awk '/sms_console/ {print "sms_console=" $7}'
}
SUPERVISOR=$(sign_in agent1@bench.test)
AGENT=$(sign_in agent2@bench.test)
median_ms() { # median_ms COOKIE PATH
  for _ in $(seq 1 9); do
    curl -s -o /dev/null -w '%{http_code} %{time_starttransfer}\n' -H "Cookie: $1" "$B$2"
  done | awk '$1 != 200 { bad = 1 } { print $2 * 1000 } END { if (bad) print "non-200" > "/dev/stderr" }' \
    | sort -n | sed -n 5p
}
printf '%-58s %10s\n' "page ($chats chats)" "median ms"
for who in SUPERVISOR AGENT; do
  cookie=${!who}
  for path in "/console/chats" "/console/chats?status=selecting" "/console/chats?agent=unassigned" \
              "/console/chats?q=0012345" "/console/chats?from=2026-06-01&to=2026-06-30" "/console/chats?page=1000" \
              "/console/opt-outs" "/console/opt-outs?page=40"; do
    printf '%-58s %10.1f\n' "$(echo "$who" | tr A-Z a-z) $path" "$(median_ms "$cookie" "$path")"
  done
done
printf '%-58s %10.1f\n' "supervisor /console/agents" "$(median_ms "$SUPERVISOR" /console/agents)"
printf '%-58s %10.1f\n' "supervisor /console/numbers" "$(median_ms "$SUPERVISOR" /console/numbers)"
