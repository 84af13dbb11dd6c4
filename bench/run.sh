#!/usr/bin/env bash
# The benchmark of POST /apps/api/v1/sms against the database's own floor, on loopback.
#
#   bench/run.sh [SECONDS] [CONNECTIONS] [ROUNDS]    (defaults: 20 s, 16 connections, 3 rounds)
#
# 1. A release sms-server on PostgreSQL + Redis (delivery worker off: this measures the
#    endpoint), driven by wrk with a new consumer on every request, after a 5 s warm-up.
# 2. pgbench running the same durable work as SQL (bench/durable_work.sql) at the same
#    concurrency, on the same server; rounds of 1. and 2. alternate.
# 3. The embedded default (SQLite, in-process lock) under the same wrk load.
# Prints each round, then the medians: requests/s, p50, p99, errors, the server's peak RSS and
# the endpoint/pgbench ratio.
# Run by hand, not by CI; BENCHMARKS.md records results.
#
# PERF=1 also samples the whole machine with `perf record` (cpu-clock) during the first round
# of each kind and prints where the CPU went: by process, then the server's and PostgreSQL's
# hottest functions. The data stays in bench/profiles/ for `perf report -i`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

seconds=${1:-20}
connections=${2:-16}
rounds=${3:-3}
[ "$rounds" -ge 1 ] && [ "$rounds" -le 7 ] || { echo "ROUNDS must be 1 to 7 (bench/new_consumer.lua numbers 8 runs)" >&2; exit 2; }
command -v wrk >/dev/null 2>&1 || { log "installing wrk"; apt_install wrk; }
if [ "${PERF:-0}" = 1 ] && ! command -v perf >/dev/null 2>&1; then log "installing perf"; apt_install linux-perf; fi
ensure_postgres
command -v redis-server >/dev/null 2>&1 || apt_install redis-server
PGBENCH=$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -n 1)
cargo build -q --locked --release -p sms-server
BIN=target/release/sms-server

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
db="sms_bench_$$"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  psql "$SMS_TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export SMS_JWT_SECRET; SMS_JWT_SECRET=$(openssl rand -hex 32)

start_server() { # start_server NAME ENV...: runs the server, sets PORT and PID
  local name=$1; shift
  PORT=$(free_port)
  env "$@" SMS_BIND="127.0.0.1:$PORT" SMS_LOG=warn SMS_DELIVERY_WORKER=off "$BIN" >"$work/$name.out" 2>"$work/$name.err" &
  PID=$!
  pids+=("$PID")
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && return; sleep 0.1; done
  cat "$work/$name.err" >&2; exit 1
}
setup_tenant() { # setup_tenant BASE ADMIN: a tenant without a rate limit; sets SMS_BASIC
  local b=$1 admin=$2
  curl -sf -X POST "$b/admin/v1/tenants" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
    -d '{"subdomain": "bench", "name": "Bench", "rate_limit_per_second": 0}' >/dev/null
  local token; token=$(curl -sf -X POST "$b/admin/v1/tenants/bench/api-tokens" -H "Authorization: Bearer $admin" | sed -E 's/.*"token":"([^"]+)".*/\1/')
  curl -sf -X POST "$b/admin/v1/tenants/bench/outbound-numbers" -H "Authorization: Bearer $admin" \
    -H 'Content-Type: application/json' -d '{"number": "+1 628-555-0199"}' >/dev/null
  SMS_BASIC=$(printf 'bench:%s' "$token" | base64 -w0); export SMS_BASIC
}
drive() { # drive BASE SECONDS [PROFILE]: wrk's summary line. Each run texts consumers of its
  # own: the run number comes from a file, as drive runs in a subshell when its output is kept.
  local run; run=$(($(cat "$work/runs" 2>/dev/null || echo 0) + 1)); echo "$run" >"$work/runs"
  local perf_pid=
  if [ -n "${3:-}" ] && [ "${PERF:-0}" = 1 ]; then
    mkdir -p bench/profiles
    perf record -q -a -g -F 499 -o "bench/profiles/$3.data" -- sleep "$2" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  SMS_BENCH_RUN=$run wrk -t2 -c"$connections" -d"$2s" --latency -s bench/new_consumer.lua "$1/apps/api/v1/sms" | grep '^BENCH'
  if [ -n "$perf_pid" ]; then wait "$perf_pid" || true; fi
}
tidy() { sed -e 's/ \{3,\}-  .*$//' -e 's/ *$//' | grep -v '^$' | cut -c1-160; }
profile_report() { # profile_report NAME SERVER_PID: CPU by process, then the server's hottest functions
  [ "${PERF:-0}" = 1 ] || return 0
  echo "-- $1: CPU samples by process"
  perf report -q -i "bench/profiles/$1.data" --no-children --sort comm --stdio -g none 2>/dev/null | tidy | head -n 12 || true
  echo "-- $1: the server's hottest functions (self time)"
  perf report -q -i "bench/profiles/$1.data" --no-children --pid "$2" --sort dso,symbol --stdio -g none 2>/dev/null \
    | tidy | head -n 30 || true
  echo "-- $1: the database's hottest functions (self time)"
  perf report -q -i "bench/profiles/$1.data" --no-children --comm postgres --sort symbol --stdio -g none 2>/dev/null \
    | tidy | head -n 15 || true
}
peak_rss_mb() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
value() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# --- PostgreSQL + Redis ---
psql "$SMS_TEST_POSTGRES_URL" -qc "CREATE DATABASE $db" >/dev/null
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
start_server postgres DATABASE_URL="${SMS_TEST_POSTGRES_URL%/*}/$db" REDIS_URL="redis://127.0.0.1:$redis_port"
B="http://127.0.0.1:$PORT"
setup_tenant "$B" "$("$BIN" admin-token --ttl 600)"
drive "$B" 5 >/dev/null
DB_URL="${SMS_TEST_POSTGRES_URL%/*}/$db"
psql "$DB_URL" -qc "CREATE SEQUENCE IF NOT EXISTS bench_numbers START 1000000"
tenant_id=$(psql "$DB_URL" -Atc "SELECT id FROM tenants WHERE subdomain = 'bench'")
pgbench_run() { "$PGBENCH" -n -c "$connections" -j 2 -T "$1" -D tenant="$tenant_id" -f bench/durable_work.sql "${@:2}" "$DB_URL"; }
pgbench_run 5 >/dev/null
commits() { psql "$DB_URL" -Atc "SELECT xact_commit FROM pg_stat_database WHERE datname = '$db'"; }
# Rounds alternate the endpoint and pgbench, so a drift of the machine's speed (it is shared)
# touches both; the summary takes the median of each.
for round in $(seq 1 "$rounds"); do
  before=$(commits)
  line=$(drive "$B" "$seconds" "$([ "$round" = 1 ] && echo postgres)")
  # Every statement outside a transaction commits on its own: commits per request counts the
  # server's database round trips outside the chat's transaction, plus that one.
  per_request=$(python3 -c "print(f'{($(commits) - $before) / max(1, $(value "$line" requests)):.1f}')")
  echo "$line db_commits_per_request=$per_request" >>"$work/pg.lines"
  perf_pid=
  if [ "$round" = 1 ] && [ "${PERF:-0}" = 1 ]; then
    perf record -q -a -g -F 499 -o bench/profiles/pgbench.data -- sleep "$seconds" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  rm -f "$work"/pgbench_log.*
  tps=$(pgbench_run "$seconds" --log --log-prefix="$work/pgbench_log" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  # Its latencies, from the per-transaction log (third field, microseconds), for comparison.
  floor_latency=$(cat "$work"/pgbench_log.* | python3 -c "
import sys
lat = sorted(int(line.split()[2]) for line in sys.stdin if line.strip())
pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] / 1000
print(f'p50_ms={pick(0.50):.2f} p99_ms={pick(0.99):.2f}')")
  if [ -n "$perf_pid" ]; then wait "$perf_pid" || true; fi
  echo "FLOOR tps=$tps $floor_latency" >>"$work/floor.lines"
  echo "round $round: endpoint (PostgreSQL + Redis) $line db_commits_per_request=$per_request; pgbench tps=$tps $floor_latency"
done
pg_rss=$(peak_rss_mb "$PID")
profile_report postgres "$PID"
if [ "${PERF:-0}" = 1 ]; then
  echo "-- pgbench: CPU samples by process"
  perf report -q -i bench/profiles/pgbench.data --no-children --sort comm --stdio -g none 2>/dev/null | tidy | head -n 6 || true
fi

# --- the embedded default: SQLite, in-process lock ---
rm -f "$work/runs" # a database of its own: its runs may reuse the numbers
start_server sqlite DATABASE_URL="sqlite://$work/bench.sqlite3" SMS_DATA_DIR="$work/data"
B="http://127.0.0.1:$PORT"
setup_tenant "$B" "$("$BIN" admin-token --ttl 600)"
drive "$B" 5 >/dev/null
for round in $(seq 1 "$rounds"); do
  line=$(drive "$B" "$seconds" "$([ "$round" = 1 ] && echo sqlite)")
  echo "$line" >>"$work/lite.lines"
  echo "round $round: endpoint (SQLite) $line"
done
lite_rss=$(peak_rss_mb "$PID")
profile_report sqlite "$PID"

python3 - "$work" "$seconds" "$connections" "$(nproc)" "$rounds" "$pg_rss" "$lite_rss" <<'SUMMARY'
import statistics, sys
work, seconds, connections, cores, rounds, pg_rss, lite_rss = sys.argv[1:]
def runs(name):
    return [dict(kv.split("=", 1) for kv in line.split()[1:]) for line in open(f"{work}/{name}.lines")]
def median(rows, key):
    return statistics.median(float(r[key]) for r in rows)
pg, lite = runs("pg"), runs("lite")
floors = runs("floor")
floor = median(floors, "tps")
total = lambda rows, key: sum(int(r[key]) for r in rows)
print(f"""
== summary: median of {rounds} rounds of {seconds} s, {connections} connections, {cores} cores shared with the load generator
PostgreSQL + Redis: {median(pg, 'rps'):.1f} requests/s, p50 {median(pg, 'p50_ms'):.2f} ms, p99 {median(pg, 'p99_ms'):.2f} ms, errors {total(pg, 'errors')}, non-2xx {total(pg, 'non2xx')}, peak RSS {pg_rss} MB, db commits/request {median(pg, 'db_commits_per_request'):.1f}
pgbench floor:      {floor:.1f} transactions/s, p50 {median(floors, 'p50_ms'):.2f} ms, p99 {median(floors, 'p99_ms'):.2f} ms
ratio:              {median(pg, 'rps') / floor:.2f} of the pgbench rate (goal >= 0.70)
SQLite default:     {median(lite, 'rps'):.1f} requests/s, p50 {median(lite, 'p50_ms'):.2f} ms, p99 {median(lite, 'p99_ms'):.2f} ms, errors {total(lite, 'errors')}, non-2xx {total(lite, 'non2xx')}, peak RSS {lite_rss} MB (goal >= 1500 requests/s)""")
SUMMARY
