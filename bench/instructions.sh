#!/usr/bin/env bash
# The server's instructions per send and per reply, counted by callgrind: the same count for the
# same binary and the same load whatever else the machine is doing, where the timing bench's CPU
# figures move by a quarter between runs on this shared machine. For comparing two builds' own
# work (BENCH_SERVER=PATH, as in run.sh) when the difference is a few per cent.
#
#   bench/instructions.sh [REQUESTS]    (default 1000 of each kind)
#
# A release sms-server on PostgreSQL + Redis under `valgrind --tool=callgrind`, the delivery
# worker on (log provider) and one webhook endpoint hearing every event at the event_sink
# example, as in run.sh. After 100 sends to warm it up, the count starts; REQUESTS sends follow,
# one after another on one kept-alive connection, each to a new consumer, then as many of an
# agent's replies round robin into 150 of the chats they opened; each count stops once every
# message is sent and every event told. Prints the instructions per request in all (the request,
# its delivery and its events) for each kind, then the functions with the most instructions,
# inclusive and self. The data stays in bench/profiles/instructions.out.1 (sends) and .2
# (replies) for `callgrind_annotate`.
# Run by hand, not by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. bench/lib.sh

requests=${1:-1000}
under_valgrind

scratch "sms_instr_$$"
export SMS_JWT_SECRET; SMS_JWT_SECRET=$(openssl rand -hex 32)
start_sink
start_redis
psql "$SMS_TEST_POSTGRES_URL" -qc "CREATE DATABASE $db" >/dev/null
db_url="${SMS_TEST_POSTGRES_URL%/*}/$db"

port=$(free_port)
mkdir -p bench/profiles
out=bench/profiles/instructions.out
rm -f "$out" "$out".*
DATABASE_URL="$db_url" REDIS_URL="redis://127.0.0.1:$redis_port" SMS_BIND="127.0.0.1:$port" SMS_LOG=warn \
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" "$BIN" \
  >"$work/server.out" 2>"$work/server.err" &
server=$!
pids+=("$server")
base="http://127.0.0.1:$port"
for _ in $(seq 1 600); do curl -sf "$base/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -sf "$base/readyz" >/dev/null || { tail -n 20 "$work/server.err" >&2; exit 1; }

setup_tenant "$base" "$("$BIN" admin-token --ttl 600)"

# drive KIND FIRST COUNT: COUNT requests one after another on one connection: sends to consumers
# FIRST onwards, or an agent's replies round robin into the 150 chats from chat FIRST on.
drive() { python3 bench/drive.py "$port" "$SMS_BASIC" "$1" "$2" "$3"; }
backlog() {
  psql "$db_url" -Atc "SELECT (SELECT COUNT(*) FROM messages WHERE delivery_status IN ('queued', 'sending')) + (SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending')"
}
drained() { for _ in $(seq 1 600); do [ "$(backlog)" = 0 ] && return; sleep 0.2; done; echo "not drained" >&2; exit 1; }

# list DUMP INCLUSIVE HOW-MANY: the functions with the most instructions per request (thousands),
# each function once (callgrind names an inlined one once per file it came from).
list() {
  callgrind_annotate --inclusive="$2" "$1" 2>/dev/null | awk -v n="$requests" -v most="$3" '
    shown >= most { next }
    /^ *[0-9,]+ \([ 0-9.]+%\)  / && !/PROGRAM TOTALS/ {
      c = $1; gsub(",", "", c); $1 = ""; $2 = ""; sub(/^ +/, ""); sub(/^[^:]*:/, ""); sub(/ \[[^]]*\]$/, "")
      if (seen[$0]++) next
      printf "%9.1f  %s\n", c / n / 1000, substr($0, 1, 150); shown++
    }'
}
# report KIND DUMP: the instructions per request of one count, and where they went.
report() {
  local total
  total=$(callgrind_annotate "$2" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
  echo "INSTR kind=$1 requests=$requests instructions_per_request=$((total / requests)) total=$total"
  echo "-- $1: the functions with the most instructions per request, inclusive (thousands)"
  list "$2" yes 45
  echo "-- $1: the functions with the most instructions per request, self (thousands)"
  list "$2" no 25
}

drive send 0 100
drained
callgrind_control -i on "$server" >/dev/null
drive send 100 "$requests"
drained
callgrind_control -d "$server" >/dev/null
first_chat=$(psql "$db_url" -Atc "SELECT MIN(id) FROM chats")
drive reply "$first_chat" "$requests"
drained
callgrind_control -d "$server" >/dev/null
callgrind_control -i off "$server" >/dev/null
report send "$out.1"
report reply "$out.2"
