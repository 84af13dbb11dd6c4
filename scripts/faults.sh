#!/usr/bin/env bash
# Fault injection with real processes, on loopback only (127.0.0.1).
#
#   SMS_BIN=target/release/sms-server scripts/faults.sh
#
# What it proves: three sms-server instances on one PostgreSQL database and one Redis, under
# about 40 s of load from clients that retry like a careful CRM would (the same Idempotency-Key
# and body, on another instance, after a connection fault, a 5 s timeout, a 5xx or a 409; for at
# most 60 s), keep their promises while the infrastructure fails under them:
#   - every acknowledged chat (a 200) exists, with its first message;
#   - no Idempotency-Key made two chats, and no consumer has two active chats;
#   - every first message of an acknowledged chat reached the provider (at least once; the run
#     prints how many twice or more);
#   - no consumer stays blocked past the pending lock TTL (5 s here): a consumer whose request
#     was never answered 200 can be texted once the faults are over (200, or row 12 naming an
#     active chat; never 409);
#   - while Redis is frozen, answers still come within 2.5 s (503s), and a 503 leaves no lock;
#   - after each fault, every instance that was not killed answers a 200 within 5 s, with no
#     restart.
# The faults, on a fixed schedule (seconds into the load): kill -9 an instance at 4 s (a few
# milliseconds after sending it six requests of its own, so that some die mid-request) and
# restart it at 8 s, the same for another at 12 s / 16 s; kill -STOP Redis at 20 s, -CONT at
# 24 s; pg_terminate_backend on the service's connections at 28 s and 34 s. Lock scans of
# Redis 3 s after each of the last three faults look for locks that a 503 left behind.
#
# It starts everything of its own: a PostgreSQL database (on the server `ensure_postgres` finds
# or starts), a Redis on a free port without persistence, a fake webhook provider
# (`scripts/faults.py provider`, which checks each POST's signature and counts it per message
# id), three instances with SMS_PROVIDER=webhook; then `scripts/faults.py run` drives the load,
# injects the faults and checks. It prints every figure, then `faults: N passed, M failed`, and
# exits 1 if a check failed. The whole run takes one to two minutes (under three); everything
# it started, and the database, is removed on exit, whatever the outcome.
#
# SMS_BIN: the server binary (default target/release/sms-server, built with cargo only when
# SMS_BIN is unset and the binary is missing). FAULTS_CLIENTS (12) and FAULTS_THINK_MS (100,
# each client's pause between two logical requests) set the load; FAULTS_KEEP=1 keeps the work
# directory (instance logs, requests.jsonl: every logical request with each attempt's instance,
# start, latency and outcome) and prints where it is. Needs python3, psql, redis-server,
# redis-cli, curl and openssl. CI runs it (.ci/run), on the release binary.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_postgres
command -v redis-server >/dev/null 2>&1 || { log "installing redis-server"; apt_install redis-server; }
BIN=${SMS_BIN:-target/release/sms-server}
if [ -z "${SMS_BIN:-}" ] && [ ! -x "$BIN" ]; then
  log "building $BIN"
  cargo build -q --release --locked -p sms-server
fi
[ -x "$BIN" ] || { echo "faults: $BIN is not an executable" >&2; exit 2; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
alive() { local state; state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1; [[ $state != Z* ]]; }
work=$(mktemp -d)
db="sms_faults_$$"
instances=3
pids=()        # Redis, the provider, the runner; the instances' pids are in $work/sms-I.pid
redis_pid=""
cleanup() {
  set +e
  [ -n "$redis_pid" ] && kill -CONT "$redis_pid" 2>/dev/null
  local p f victims=("${pids[@]}")
  for f in "$work"/sms-*.pid; do [ -f "$f" ] && victims+=("$(cat "$f")"); done
  for p in "${victims[@]}"; do kill "$p" 2>/dev/null; done
  for _ in $(seq 1 30); do
    local left=0
    for p in "${victims[@]}"; do alive "$p" && left=1; done
    [ "$left" = 0 ] && break
    sleep 0.1
  done
  for p in "${victims[@]}"; do alive "$p" && kill -9 "$p" 2>/dev/null; done
  psql "$SMS_TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  if [ "${FAULTS_KEEP:-0}" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- PostgreSQL, Redis, the fake provider ---
psql "$SMS_TEST_POSTGRES_URL" -qc "CREATE DATABASE $db" >/dev/null
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
redis_pid=$!
pids+=("$redis_pid")
for _ in $(seq 1 50); do [ "$(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null)" = PONG ] && break; sleep 0.1; done
[ "$(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null)" = PONG ] || { cat "$work/redis.log" >&2; exit 1; }

export SMS_WEBHOOK_SECRET; SMS_WEBHOOK_SECRET=$(openssl rand -hex 32)
provider_port=$(free_port)
python3 scripts/faults.py provider --port "$provider_port" >"$work/provider.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$provider_port/counts" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$provider_port/counts" >/dev/null || { cat "$work/provider.log" >&2; exit 1; }

# --- three instances; the runner restarts killed ones with this same environment ---
export DATABASE_URL="${SMS_TEST_POSTGRES_URL%/*}/$db" REDIS_URL="redis://127.0.0.1:$redis_port"
export SMS_JWT_SECRET; SMS_JWT_SECRET=$(openssl rand -hex 32)
export SMS_PROVIDER=webhook SMS_WEBHOOK_URL="http://127.0.0.1:$provider_port/messages"
export SMS_LOCK_PENDING_TTL_SECS=5 SMS_DELIVERY_POLL_MS=100 SMS_SWEEP_INTERVAL_SECS=1 SMS_LOG=warn
export SMS_DATA_DIR="$work/data"
ports=()
for i in $(seq 0 $((instances - 1))); do
  ports+=("$(free_port)")
  SMS_BIND="127.0.0.1:${ports[$i]}" "$BIN" >"$work/sms-$i.out" 2>"$work/sms-$i.err" </dev/null &
  echo $! >"$work/sms-$i.pid"
  disown # the runner kills these: no job notices from this shell, the clean-up uses the pid files
done
for i in $(seq 0 $((instances - 1))); do
  for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:${ports[$i]}/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -sf "http://127.0.0.1:${ports[$i]}/readyz" >/dev/null || { tail -n 20 "$work/sms-$i.err" >&2; exit 1; }
done
B="http://127.0.0.1:${ports[0]}"
log "faults: $instances instances on ports ${ports[*]}, PostgreSQL database $db, Redis on $redis_port, provider on $provider_port"

# --- a tenant without a rate limit, its API token, its outbound number ---
ADMIN=$("$BIN" admin-token --ttl 600)
setup_failed() { echo "faults: could not $1" >&2; exit 1; }
curl -sf -X POST "$B/admin/v1/tenants" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  -d '{"subdomain": "faults", "name": "Fault injection", "rate_limit_per_second": 0}' >/dev/null \
  || setup_failed "create the tenant"
token=$(curl -sf -X POST "$B/admin/v1/tenants/faults/api-tokens" -H "Authorization: Bearer $ADMIN" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])') || setup_failed "issue an API token"
curl -sf -X POST "$B/admin/v1/tenants/faults/outbound-numbers" -H "Authorization: Bearer $ADMIN" \
  -H 'Content-Type: application/json' -d '{"number": "+1 628-555-0199"}' >/dev/null \
  || setup_failed "add the outbound number"
export FAULTS_BASIC; FAULTS_BASIC=$(printf 'faults:%s' "$token" | base64 -w0)

# --- load, faults, checks (in the background, so a signal reaches the trap at once) ---
python3 scripts/faults.py run --bin "$BIN" --work "$work" --ports "$(IFS=,; echo "${ports[*]}")" \
  --redis-port "$redis_port" --redis-pid "$redis_pid" --provider-port "$provider_port" \
  --pg-url "$SMS_TEST_POSTGRES_URL" --db "$db" --pending-ttl "$SMS_LOCK_PENDING_TTL_SECS" \
  --clients "${FAULTS_CLIENTS:-12}" --think-ms "${FAULTS_THINK_MS:-100}" &
runner=$!
pids+=("$runner")
rc=0
wait "$runner" || rc=$?
exit "$rc"
