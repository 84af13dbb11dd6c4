#!/usr/bin/env bash
# PostgreSQL's instructions per SMS, counted by callgrind: the database's own work for the whole
# job, beside the same count for the whole job's least durable work (bench/whole_least_work.sql).
# The timing bench's CPU figures for PostgreSQL move by a fifth between runs on this shared
# machine; this count is the same for the same schema, statements and load.
#
#   bench/pg_instructions.sh [SMS]    (default 300)
#
# A PostgreSQL cluster of its own (initdb in a scratch directory; TLS as the machine's cluster
# has it when Debian's snakeoil certificate is there; autovacuum off, so that the counts do not
# depend on when it wakes), every process of it under `valgrind --tool=callgrind`, which writes a
# process's count when it exits: what is counted is the work of the connections (backends),
# which end with their clients. A release sms-server (not under valgrind) on it and Redis, the
# delivery worker on (log provider) and one webhook endpoint hearing every event at the
# event_sink example, as in run.sh. The server is started twice: it sends 30 SMS (one after
# another on one kept-alive connection, each to a new consumer), everything is sent and told, and
# it stops; then 30 + SMS the same way. The difference of the two counts, over SMS, is the
# database's instructions per SMS with the connections' start and end taken out, in all and on
# the busiest connection: the one that ran the sends' statements, whose count is the same within
# 1 % from run to run. The whole count also holds the workers' connections, whose batches hold one
# SMS each here and whose idle polls count with the time the run takes under valgrind: it moves
# by a tenth. pgbench's least durable work likewise (30, then 30 + SMS transactions' pairs on one
# connection). The data stays in bench/profiles/pg/ for `callgrind_annotate` (one file per
# process, and in counted.N the list of the files of each count).
# BENCH_SERVER=PATH runs another build of sms-server, as in run.sh. Run by hand, not by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. bench/lib.sh

sms=${1:-300}
under_valgrind
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

scratch "sms_pg_instr_$$"
export SMS_JWT_SECRET; SMS_JWT_SECRET=$(openssl rand -hex 32)
chmod 755 "$work"
pg_dir="$work/pg"
profiles=bench/profiles/pg
rm -rf "$profiles"; mkdir -p "$profiles"; chmod 777 "$profiles"
as_root mkdir -p "$pg_dir"; as_root chown postgres:postgres "$pg_dir"
as_root runuser -u postgres -- "$pg_bin/initdb" -D "$pg_dir" -A trust -U postgres >/dev/null
tls=(-c ssl=off)
if [ -r /etc/ssl/certs/ssl-cert-snakeoil.pem ] && as_root runuser -u postgres -- test -r /etc/ssl/private/ssl-cert-snakeoil.key; then
  tls=(-c ssl=on -c ssl_cert_file=/etc/ssl/certs/ssl-cert-snakeoil.pem -c ssl_key_file=/etc/ssl/private/ssl-cert-snakeoil.key)
fi
pg_port=$(free_port)
as_root runuser -u postgres -- valgrind --tool=callgrind --callgrind-out-file="$PWD/$profiles/pg.%p" \
  "$pg_bin/postgres" -D "$pg_dir" -c listen_addresses=127.0.0.1 -p "$pg_port" -k "$pg_dir" "${tls[@]}" \
  -c autovacuum=off >"$work/pg.out" 2>&1 &
stop_pg() { as_root runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir" -m immediate stop >/dev/null 2>&1 || true; }
trap 'stop_pg; scratch_cleanup' EXIT
pg_url="postgres://postgres@127.0.0.1:$pg_port"
for _ in $(seq 1 600); do pg_answers "$pg_url/postgres" && break; sleep 0.2; done
pg_answers "$pg_url/postgres" || { tail -n 20 "$work/pg.out" >&2; exit 1; }
psql "$pg_url/postgres" -qc "CREATE DATABASE bench" >/dev/null
db_url="$pg_url/bench"

start_sink
start_redis
port=$(free_port)
base="http://127.0.0.1:$port"
server=
start_server() {
  DATABASE_URL="$db_url" REDIS_URL="redis://127.0.0.1:$redis_port" SMS_BIND="127.0.0.1:$port" SMS_LOG=warn \
    "$BIN" >>"$work/server.out" 2>>"$work/server.err" &
  server=$!
  pids+=("$server")
  for _ in $(seq 1 600); do curl -sf "$base/readyz" >/dev/null 2>&1 && return; sleep 0.2; done
  tail -n 20 "$work/server.err" >&2; exit 1
}
stop_server() { kill "$server"; wait "$server" || true; }

# The backlog and the connections are read on one session kept open (a new one costs the
# database more than a send), whose process is left out of the counts.
coproc WATCH { psql "$db_url" -Atq 2>&1; }
ask() { echo "$1" >&"${WATCH[1]}"; local answer; read -r answer <&"${WATCH[0]}"; echo "$answer"; }
watcher=$(ask "SELECT pg_backend_pid();")
backlog() {
  ask "SELECT (SELECT COUNT(*) FROM messages WHERE delivery_status IN ('queued', 'sending')) + (SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending');"
}
drained() { for _ in $(seq 1 1200); do [ "$(backlog)" = 0 ] && return; sleep 0.2; done; echo "not drained" >&2; exit 1; }
# gone: waits until no connection but the watcher's is left, and their processes have written.
gone() {
  for _ in $(seq 1 600); do
    [ "$(ask "SELECT COUNT(*) FROM pg_stat_activity WHERE backend_type = 'client backend';")" = 1 ] && break
    sleep 0.2
  done
  sleep 2
}

# send FIRST COUNT: COUNT sends one after another on one connection, to consumers FIRST onwards.
send() { python3 bench/drive.py "$port" "$SMS_BASIC" send "$1" "$2"; }

# counted COMMAND...: runs the command; prints the instructions of the database's connections
# that ended meanwhile (the watcher's left out): each one's PostgresMain, inclusive, as a forked
# process's count starts with what the postmaster had counted before the fork.
counted() {
  gone
  local marker; marker=$(mktemp -p "$work")
  sleep 1
  "$@"
  gone
  find "$profiles" -name 'pg.*' -newer "$marker" ! -name "pg.$watcher" >"$marker.files"
  cp "$marker.files" "$profiles/counted.$(($(ls "$profiles"/counted.* 2>/dev/null | wc -l) + 1))"
  python3 - "$marker.files" <<'EOF'
import re, subprocess, sys
total = busiest = 0
for path in open(sys.argv[1]).read().split():
    listing = subprocess.run(["callgrind_annotate", "--inclusive=yes", path], capture_output=True, text=True).stdout
    found = re.search(r"^ *([0-9,]+) \([ 0-9.]+%\)  \S*:PostgresMain ", listing, re.M)
    count = int(found.group(1).replace(",", "")) if found else 0
    total, busiest = total + count, max(busiest, count)
print(total, busiest)
EOF
}
# per_sms NAME BEFORE AFTER: the difference of two counts ("ALL BUSIEST") over the SMS between
# them, in all and on the busiest connection.
per_sms() {
  local all0 busiest0 all1 busiest1
  read -r all0 busiest0 <<<"$2"; read -r all1 busiest1 <<<"$3"
  echo "PGINSTR kind=$1 sms=$sms instructions_per_sms=$(((all1 - all0) / sms)) busiest_connection_per_sms=$(((busiest1 - busiest0) / sms))"
}

start_server
setup_tenant "$base" "$("$BIN" admin-token --ttl 600)"
stop_server
gone
whole_job() { start_server; send "$1" "$2"; drained; stop_server; }
short=$(counted whole_job 0 30)
long=$(counted whole_job 30 $((30 + sms)))
per_sms whole_job "$short" "$long"

psql "$db_url" -q -f bench/least_work_schema.sql >/dev/null 2>&1
PGBENCH=$(command -v pgbench || echo "$pg_bin/pgbench")
least_work() { "$PGBENCH" -n -M prepared -c 1 -t "$1" -f bench/whole_least_work.sql "$db_url" >/dev/null; }
short=$(counted least_work 30)
long=$(counted least_work $((30 + sms)))
per_sms least_work "$short" "$long"
