#!/usr/bin/env bash
# The Manager API export of a large tenant: does a page cost the same at any depth?
#
#   bench/exports.sh [CHATS]    (default 100000)
#
# A release sms-server on PostgreSQL; one tenant with CHATS chats (written straight into the
# database, each with a consumer of its own and a message, their updated_at spread over a year).
# For each sort column, the time of GET /manager/api/v1/chats?per=100 at the first page, the
# middle one and the last (the median of 5 requests each), then PostgreSQL's plan of the deepest
# page's query, to show it is served by an index. Run by hand, not by CI; BENCHMARKS.md records
# results.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

chats=${1:-100000}
ensure_postgres
cargo build -q --locked --release -p sms-server --bin sms-server
BIN=target/release/sms-server

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
db="sms_exports_$$"
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
DATABASE_URL="$DB_URL" SMS_BIND="127.0.0.1:$PORT" SMS_LOG=warn SMS_PUBLIC_URL="https://sms.example.com" \
  "$BIN" >"$work/server.out" 2>"$work/server.err" &
pid=$!
B="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do curl -sf "$B/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
ADMIN=$("$BIN" admin-token --ttl 600)
curl -sf -X POST "$B/admin/v1/tenants" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  -d '{"subdomain": "bench", "name": "Bench", "rate_limit_per_second": 0}' >/dev/null
TOKEN=$(curl -sf -X POST "$B/admin/v1/tenants/bench/api-tokens" -H "Authorization: Bearer $ADMIN" | sed -E 's/.*"token":"([^"]+)".*/\1/')

log "writing $chats chats"
psql "$DB_URL" -q <<SQL
INSERT INTO end_users (tenant_id, number, created_at)
  SELECT t.id, '+1415' || lpad(n::text, 7, '0'), now() FROM tenants t, generate_series(1, $chats) n;
INSERT INTO chats (tenant_id, end_user_id, chat_type, lang, status, outbound_number, disconnected_by, created_at,
                   last_activity_at, expires_at, updated_at, ends_at)
  SELECT e.tenant_id, e.id, 'Messaging (SMS)', 'en', 'finished', '+16285550199', 'disconnected_by_agent',
         timestamp '2026-01-01' + (e.id % 1000) * interval '1 minute', timestamp '2026-01-01', timestamp '2026-01-02',
         timestamp '2026-01-01' + random() * interval '365 days', timestamp '2026-01-02'
  FROM end_users e;
INSERT INTO messages (chat_id, tenant_id, direction, body, segments, delivery_status, created_at, updated_at,
                      from_number, to_number, sent_at)
  SELECT c.id, c.tenant_id, 'outbound', 'lorem ipsum', 1, 'delivered', c.created_at, c.updated_at,
         '+16285550199', '+14155550100', c.created_at FROM chats c;
VACUUM ANALYZE;
SQL

time_page() { # time_page QUERY: the median of 5 requests, in milliseconds
  for _ in 1 2 3 4 5; do
    curl -s -o /dev/null -w '%{time_total}\n' -u "bench:$TOKEN" "$B/manager/api/v1/chats?$1"
  done | sort -n | sed -n 3p | awk '{ printf "%.1f", $1 * 1000 }'
}
last=$(((chats + 99) / 100))
middle=$(((last + 1) / 2))
printf '%-12s %10s %10s %10s\n' sort_column "page 1" "page $middle" "page $last"
for column in id created_at updated_at; do
  q="per=100&sort_column=$column"
  printf '%-12s %8s ms %8s ms %8s ms\n' "$column" "$(time_page "$q&page=1")" "$(time_page "$q&page=$middle")" "$(time_page "$q&page=$last")"
done
first=$(curl -s -D - -o /dev/null -u "bench:$TOKEN" "$B/manager/api/v1/chats?per=100&sort_column=updated_at&page=$last" | tr -d '\r')
echo "headers of the last page:"
echo "$first" | grep -iE '^(total|per-page|link):'
echo "the deepest page's ids, as the service asks for them:"
psql "$DB_URL" -Atc "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id FROM chats WHERE tenant_id = 1
  ORDER BY updated_at, id OFFSET $(((last - 1) * 100)) LIMIT 100" | sed 's/^/  /'
