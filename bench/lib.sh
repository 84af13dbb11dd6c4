# What the benches share (sourced by bench/run.sh, bench/instructions.sh and bench/pg_instructions.sh,
# after scripts/lib.sh):
# a free port, a scratch directory with the processes and the database to remove on exit, the
# event sink, Redis, and the bench's tenant.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# scratch DB: a scratch directory ($work), the name of a database to drop on exit ($db), and the
# processes to stop on exit (add each to $pids).
scratch() {
  work=$(mktemp -d)
  db=$1
  pids=()
  trap scratch_cleanup EXIT
}
scratch_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  psql "$SMS_TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}

# start_sink: the event_sink example ($SINK) on a free port ($SINK_PORT), answering 200 to every
# event. It is on loopback, which event webhooks reach only when allowed (SPEC section 11).
start_sink() {
  export SMS_EVENTS_ALLOWED_NETWORKS=127.0.0.0/8
  SINK_PORT=$(free_port)
  "$SINK" "127.0.0.1:$SINK_PORT" >"$work/sink.out" 2>&1 &
  pids+=($!)
}

# start_redis: a Redis of the bench's own on a free port ($redis_port), keeping nothing on disk.
start_redis() {
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
  pids+=($!)
}

# setup_tenant BASE ADMIN: a tenant without a rate limit, its number, and an endpoint for every
# event type at the sink; sets SMS_BASIC (base64 of subdomain:token).
setup_tenant() {
  local b=$1 admin=$2
  curl -sf -X POST "$b/admin/v1/tenants" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
    -d '{"subdomain": "bench", "name": "Bench", "rate_limit_per_second": 0}' >/dev/null
  local token; token=$(curl -sf -X POST "$b/admin/v1/tenants/bench/api-tokens" -H "Authorization: Bearer $admin" | sed -E 's/.*"token":"([^"]+)".*/\1/')
  curl -sf -X POST "$b/admin/v1/tenants/bench/outbound-numbers" -H "Authorization: Bearer $admin" \
    -H 'Content-Type: application/json' -d '{"number": "+1 628-555-0199"}' >/dev/null
  curl -sf -X POST "$b/admin/v1/tenants/bench/webhooks" -H "Authorization: Bearer $admin" \
    -H 'Content-Type: application/json' -d "{\"url\": \"http://127.0.0.1:$SINK_PORT/events\"}" >/dev/null
  SMS_BASIC=$(printf 'bench:%s' "$token" | base64 -w0); export SMS_BASIC
}

# under_valgrind: what the callgrind counts need (bench/instructions.sh, bench/pg_instructions.sh):
# valgrind, PostgreSQL, Redis, and a release server ($BIN: BENCH_SERVER or the one built here)
# with the event sink ($SINK).
under_valgrind() {
  command -v valgrind >/dev/null 2>&1 || apt_install valgrind
  ensure_postgres
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  if [ -z "${BENCH_SERVER:-}" ]; then
    cargo build -q --locked --release -p sms-server --bin sms-server --example event_sink
  fi
  BIN=${BENCH_SERVER:-target/release/sms-server}
  SINK=target/release/examples/event_sink
  [ -x "$SINK" ] || cargo build -q --locked --release -p sms-server --example event_sink
}
