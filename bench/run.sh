#!/usr/bin/env bash
# The benchmark of the whole job: sending, delivering and telling, against the least work a
# database can do, on loopback.
#
#   bench/run.sh [SECONDS] [CONNECTIONS] [ROUNDS]    (defaults: 20 s, 16 connections, 3 rounds)
#
# 1. A release sms-server on PostgreSQL + Redis doing everything a deployment does: the delivery
#    worker on (log provider) and one webhook endpoint subscribed to every event type, posted to
#    a local receiver answering 200 (the event_sink example). wrk sends POST /apps/api/v1/sms with
#    a new consumer on every request, after a 5 s warm-up. After each round: how much was still
#    to send and to tell when the load stopped, and how long it took to drain (goal: within 5 s).
# 2. The floors, with pgbench (-M prepared) at the same concurrency on the same PostgreSQL:
#    the least durable work of the whole job, one SMS at a time in two commits (the send's rows,
#    its chat.created event and delivery; then the message sent, its message.status_updated
#    event and delivery, both deliveries delivered) on narrow tables with only the indexes it
#    needs (bench/whole_least_work.sql); the least durable work of the send alone
#    (bench/least_work.sql); and the send's work on the service's own schema
#    (bench/durable_work.sql). Rounds of 1. and 2. alternate (the machine is shared and drifts).
# 3. Replies: POST /apps/api/v1/chats/{id}/messages into 150 of the chats the rounds opened.
# 4. Latency at a steady rate: sends and replies in an open loop (the open_loop example: each
#    request starts when due, its latency counted from then, so coordinated omission is
#    corrected) at 30, 50 and 70 % of the capacity the closed-loop rounds measured; p50, p99 and
#    p99.9 of each, how long the server's threads waited for a core per request (their time
#    runnable but not running, from /proc/PID/task/*/schedstat), where the slow requests waited
#    inside the server (bench/waits.py, from /metrics) and, on PostgreSQL, the checkpoints and
#    autovacuum runs PostgreSQL made meanwhile (bench/pg_activity.py). Then the floor's own
#    tail: pgbench's whole job, and the send's least work, each throttled (-R, which counts
#    latency from the scheduled start) to 30, 50 and 70 % of its own rate, and whether the least
#    work itself is within the goal's bound.
# 5. The embedded default (SQLite, in-process lock), worker and events on: the same closed-loop
#    rounds, replies, and open-loop rates; the PostgreSQL part's server and database gone first,
#    and PostgreSQL checkpointed, so that none of its writing runs beside SQLite's.
# 6. CHATS=N (optional): the SQLite server's peak RSS after N chats are open at once.
# Prints each round and level, with where its slow requests waited inside the server (waits:),
# then medians: requests/s, p50, p99, errors, peak RSS, database commits per request, the backlogs, and the ratios to the floors, beside the goals. The whole job's rate
# (the ratio's, SQLite's goal's) is a round's sends over the round and its drain: work left for
# after the load is not counted as done. Run by hand, not by CI; BENCHMARKS.md records results.
#
# ONLY=postgres skips SQLite (5. and 6.), ONLY=sqlite skips PostgreSQL (1. to 4.): for comparing
# one backend's settings in less time. BENCH_SERVER=PATH runs another build of sms-server (a
# copy of an earlier commit's, say) against the same load, for A/B runs back to back.
# STATEMENTS=1 prints PostgreSQL's statements by total execution time during each round and its drain
# (needs pg_stat_statements in shared_preload_libraries).
# PERF=1 also samples the whole machine with `perf record` (cpu-clock) during the first round
# of each kind and the open loop's 70 % levels, and prints where the CPU went: by process,
# then the server's and PostgreSQL's hottest functions. The data stays in bench/profiles/ for `perf report -i`.
# Every level prints the server's sleeps (its threads' voluntary context switches) and the
# machine's context switches per request; SLEEPS=1 also breaks the server's down by thread name
# for each open-loop level.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. bench/lib.sh

seconds=${1:-20}
connections=${2:-16}
rounds=${3:-3}
[ "$rounds" -ge 1 ] && [ "$rounds" -le 7 ] || { echo "ROUNDS must be 1 to 7 (bench/new_consumer.lua numbers 8 runs)" >&2; exit 2; }
case "${ONLY:-}" in '' | postgres | sqlite) ;; *) echo "ONLY must be postgres or sqlite (unset: both)" >&2; exit 2 ;; esac
command -v wrk >/dev/null 2>&1 || { log "installing wrk"; apt_install wrk; }
if [ "${PERF:-0}" = 1 ] && ! command -v perf >/dev/null 2>&1; then log "installing perf"; apt_install linux-perf; fi
ensure_postgres
command -v redis-server >/dev/null 2>&1 || apt_install redis-server
PGBENCH=$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -n 1)
cargo build -q --locked --release -p sms-server --bin sms-server --example event_sink --example open_loop
BIN=${BENCH_SERVER:-target/release/sms-server}
SINK=target/release/examples/event_sink
OPEN=target/release/examples/open_loop

scratch "sms_bench_$$"
export SMS_JWT_SECRET; SMS_JWT_SECRET=$(openssl rand -hex 32)
# One endpoint hears every event (two or three a request): at the default of 4 requests in flight
# per endpoint it cannot keep up with 1,000 requests/s on a loaded 2-core machine, which is a
# limit the operator sets for the CRM's sake, not the service's throughput. At 2,300 sends/s
# (SQLite) it hears about 4,700 events/s, and with 32 in flight each post would have to be
# answered within 7 ms on two saturated cores: 20,000 deliveries were left when the load
# stopped. The sink takes 64 as easily.
export SMS_EVENTS_ENDPOINT_CONCURRENCY=${SMS_EVENTS_ENDPOINT_CONCURRENCY:-64}

start_sink

start_server() { # start_server NAME ENV...: runs the server, sets PORT and PID
  local name=$1; shift
  PORT=$(free_port)
  env "$@" SMS_BIND="127.0.0.1:$PORT" SMS_LOG=warn "$BIN" >"$work/$name.out" 2>"$work/$name.err" &
  PID=$!
  pids+=("$PID")
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && return; sleep 0.1; done
  cat "$work/$name.err" >&2; exit 1
}
# CPU time, in clock ticks: a process's (user + system), and the whole machine's busy time.
TICK_MS=$(python3 -c "import os; print(1000 / os.sysconf('SC_CLK_TCK'))")
process_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
per_request_ms() { python3 -c "print(f'{($2 - $1) * $TICK_MS / max(1, $3):.3f}')"; } # FROM TO REQUESTS
# How often the process's threads went to sleep (each a wake-up later: voluntary context switches),
# and the whole machine's context switches: how many hand-offs between threads a request costs.
process_sleeps() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/ { s += $2 } END { print s + 0 }'; }
machine_switches() { awk '/^ctxt / { print $2 }' /proc/stat; }
# thread_sleeps PID: each of the process's threads' name and sleeps so far, one per line (SLEEPS=1)
thread_sleeps() { for t in /proc/"$1"/task/*; do echo "$(cat "$t/comm" 2>/dev/null | tr ' ' '_') $(awk '/^voluntary_ctxt_switches/ { print $2 }' "$t/status" 2>/dev/null)"; done; }
per_request() { python3 -c "print(f'{($2 - $1) / max(1, $3):.1f}')"; } # FROM TO REQUESTS
drive() { # drive BASE SECONDS [PROFILE]: wrk's summary line, with the CPU time per request of the
  # server ($PID) and of the whole machine. Each run texts consumers of its own: the run number
  # comes from a file, as drive runs in a subshell when its output is kept.
  local run; run=$(($(cat "$work/runs" 2>/dev/null || echo 0) + 1)); echo "$run" >"$work/runs"
  local perf_pid=
  if [ -n "${3:-}" ] && [ "${PERF:-0}" = 1 ]; then
    mkdir -p bench/profiles
    perf record -q -a -g -F 499 -o "bench/profiles/$3.data" -- sleep "$2" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  local server0 machine0 line requests sleeps0 switches0
  server0=$(process_ticks "$PID"); machine0=$(machine_ticks); sleeps0=$(process_sleeps "$PID"); switches0=$(machine_switches)
  line=$(SMS_BENCH_RUN=$run wrk -t2 -c"$connections" -d"$2s" --latency -s bench/new_consumer.lua "$1/apps/api/v1/sms" | grep '^BENCH')
  requests=$(value "$line" requests)
  echo "$line server_cpu_ms=$(per_request_ms "$server0" "$(process_ticks "$PID")" "$requests")" \
    "machine_cpu_ms=$(per_request_ms "$machine0" "$(machine_ticks)" "$requests")" \
    "server_sleeps=$(per_request "$sleeps0" "$(process_sleeps "$PID")" "$requests")" \
    "machine_switches=$(per_request "$switches0" "$(machine_switches)" "$requests")"
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
# backlog SQL-RUNNER: messages still to send and event deliveries still to post, as "M D".
backlog_sql="SELECT (SELECT COUNT(*) FROM messages WHERE delivery_status IN ('queued', 'sending')) || ' ' || (SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending')"
pg_backlog() { psql "$DB_URL" -Atc "$backlog_sql"; }
lite_backlog() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$work/bench.sqlite3" "$backlog_sql"; }
drain() { # drain BACKLOG-FN: "backlog_at_stop=M/D drain_s=S" (S: until both are 0; 30 s at most)
  local at_stop; at_stop=$($1)
  local start; start=$(date +%s.%N)
  local now=$at_stop
  for _ in $(seq 1 300); do [ "$now" = "0 0" ] && break; sleep 0.1; now=$($1); done
  local took; took=$(python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')")
  [ "$now" = "0 0" ] || took=">30"
  echo "backlog_at_stop=${at_stop/ //} drain_s=$took"
}

serve_warm() { # serve_warm NAME BACKLOG-FN ENV...: a server (PID, B) with the bench's tenant, warmed up
  local name=$1 backlog=$2
  shift 2
  start_server "$name" "$@"
  B="http://127.0.0.1:$PORT"
  setup_tenant "$B" "$("$BIN" admin-token --ttl 600)"
  drive "$B" 5 >/dev/null
  drain "$backlog" >/dev/null
}
pgbench_run() { # pgbench_run SCRIPT SECONDS ARGS...: the tps, latencies and machine CPU time per
  # transaction of one run
  rm -f "$work"/pgbench_log.*
  local tps machine0
  machine0=$(machine_ticks)
  tps=$("$PGBENCH" -n -M prepared -c "$connections" -j 2 -T "$2" -D tenant="$tenant_id" -f "$1" \
    --log --log-prefix="$work/pgbench_log" "${@:3}" "$DB_URL" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  # Its latencies, from the per-transaction log (third field, microseconds).
  local busy=$(($(machine_ticks) - machine0))
  cat "$work"/pgbench_log.* | python3 -c "
import sys
lat = sorted(int(line.split()[2]) for line in sys.stdin if line.strip())
pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] / 1000
print(f'tps=$tps p50_ms={pick(0.50):.2f} p99_ms={pick(0.99):.2f} p999_ms={pick(0.999):.2f} machine_cpu_ms={$busy * $TICK_MS / max(1, len(lat)):.3f}')"
}
logged() { # logged NAME: the server's warnings and errors so far, counted, and the first three
  local n; n=$(grep -c -E 'WARN|ERROR' "$work/$1.err" || true)
  echo "  the server logged $n warnings and errors$([ "$n" -gt 0 ] && printf ', the first: %s' "$(grep -m 3 -E 'WARN|ERROR' "$work/$1.err" | sed 's/\x1b\[[0-9;]*m//g' | cut -c1-200 | paste -sd '|')")"
}
scrape() { curl -sf "$B/metrics" >"$work/metrics.$1" || true; } # scrape before|after: the server's /metrics
# waits_line: where the slow requests of the run between the two scrapes waited inside the server
waits_line() { echo "  waits: $(python3 bench/waits.py "$work/metrics.before" "$work/metrics.after")"; }
reply_rounds() { # reply_rounds LABEL BACKLOG-FN LINES: closed-loop replies into chats $first..$last
  local round line drained
  for round in $(seq 1 "$rounds"); do
    scrape before
    line=$(CHAT_FIRST=$first CHAT_LAST=$last wrk -t2 -c"$connections" -d"${seconds}s" --latency -s bench/reply.lua "$B" | grep '^BENCH')
    scrape after
    drained=$(drain "$2")
    echo "$line $drained" >>"$3"
    echo "round $round: replies ($1) $line $drained"
    waits_line
  done
}
median_rps() { python3 -c "import statistics, sys; print(statistics.median(float(l.split('rps=')[1].split()[0]) for l in open(sys.argv[1])))" "$1"; }
# pg_activity FILE: a snapshot of what PostgreSQL does on its own (checkpoints, autovacuum), for
# bench/pg_activity.py; nothing on SQLite. PostgreSQL 17 moved the checkpoints' counts.
pg_activity() {
  [ "${DB_URL:-}" ] || return 0
  { psql "$DB_URL" -Atc "SELECT 'checkpointer ' || (num_timed + num_requested) || ' ' || write_time || ' ' || sync_time || ' ' || buffers_written FROM pg_stat_checkpointer" 2>/dev/null \
      || psql "$DB_URL" -Atc "SELECT 'checkpointer ' || (checkpoints_timed + checkpoints_req) || ' ' || checkpoint_write_time || ' ' || checkpoint_sync_time || ' ' || buffers_checkpoint || E'\nbackend ' || buffers_backend FROM pg_stat_bgwriter"
    psql "$DB_URL" -Atc "SELECT 'table ' || relname || ' ' || autovacuum_count || ' ' || autoanalyze_count FROM pg_stat_user_tables"
  } >"$1" 2>/dev/null || true
}
runq_ms() { # runq_ms PID: how long the process's threads have been runnable, waiting for a core
  # (ms; a thread that ended meanwhile takes its share with it)
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $2 } END { printf "%.3f", s / 1e6 }'
}
open_rates() { # open_rates NAME SEND-LINES REPLY-LINES BACKLOG-FN: open-loop sends and replies to $B
  # at 30, 50 and 70 % of the median closed-loop rate, each followed by its drain
  local name=$1 send_rps reply_rps pct kind rate line
  send_rps=$(median_rps "$2"); reply_rps=$(median_rps "$3")
  for pct in 30 50 70; do
    for kind in send reply; do
      rate=$(python3 -c "print(round(${pct} / 100 * $([ "$kind" = send ] && echo "$send_rps" || echo "$reply_rps")))")
      local run; run=$(($(cat "$work/runs" 2>/dev/null || echo 0) + 1)); echo "$run" >"$work/runs"
      local waited server0 machine0 started requests sleeps0 switches0
      scrape before
      if [ "$name" = pg ]; then pg_activity "$work/pg.before"; fi
      waited=$(runq_ms "$PID"); server0=$(process_ticks "$PID"); machine0=$(machine_ticks); started=$(date +%s.%N)
      sleeps0=$(process_sleeps "$PID"); switches0=$(machine_switches)
      [ "${SLEEPS:-0}" = 1 ] && thread_sleeps "$PID" >"$work/threads.before"
      local perf_pid=
      if [ "$pct" = 70 ] && [ "${PERF:-0}" = 1 ]; then
        mkdir -p bench/profiles
        perf record -q -a -g -F 499 -o "bench/profiles/$name-$kind-70.data" -- sleep "$seconds" >/dev/null 2>&1 &
        perf_pid=$!
      fi
      line=$(SMS_BENCH_RUN=$run CHAT_FIRST=$first CHAT_LAST=$last "$OPEN" "$B" "$kind" "$rate" "$seconds")
      if [ -n "$perf_pid" ]; then wait "$perf_pid" || true; fi
      requests=$(value "$line" requests)
      line="$line server_runq_ms=$(python3 -c "print(f'{($(runq_ms "$PID") - $waited) / max(1, $requests):.3f}')")"
      # The CPU a request cost at this rate (the workers' batches are smaller at lower rates),
      # and how busy the whole machine was: its cores' share in use over the run.
      line="$line server_cpu_ms=$(per_request_ms "$server0" "$(process_ticks "$PID")" "$requests")"
      line="$line machine_cpu_ms=$(per_request_ms "$machine0" "$(machine_ticks)" "$requests")"
      line="$line server_sleeps=$(per_request "$sleeps0" "$(process_sleeps "$PID")" "$requests")"
      line="$line machine_switches=$(per_request "$switches0" "$(machine_switches)" "$requests")"
      if [ "${SLEEPS:-0}" = 1 ]; then
        thread_sleeps "$PID" >"$work/threads.after"
        echo "-- $name $kind $pct %: the server's sleeps per request, by thread name"
        python3 - "$work/threads.before" "$work/threads.after" "$requests" <<'THREADS'
import collections, sys
before = collections.Counter(); after = collections.Counter()
for name, n in (l.split() for l in open(sys.argv[1]) if len(l.split()) == 2): before[name] += int(n)
for name, n in (l.split() for l in open(sys.argv[2]) if len(l.split()) == 2): after[name] += int(n)
for name in sorted(after, key=lambda k: -(after[k] - before[k])):
    if after[name] - before[name] > 0:
        print(f"    {name}: {(after[name] - before[name]) / max(1, int(sys.argv[3])):.2f}")
THREADS
      fi
      line="$line machine_busy=$(python3 -c "import os; print(f'{($(machine_ticks) - $machine0) * $TICK_MS / 10 / ($(date +%s.%N) - $started) / os.cpu_count():.0f}')")"
      scrape after
      if [ "$name" = pg ]; then pg_activity "$work/pg.after"; fi
      local drained; drained=$(drain "$4")
      echo "$line pct=$pct $drained" >>"$work/$name.open.lines"
      echo "open loop ($name) at $pct %: $line $drained"
      waits_line
      # What PostgreSQL did on its own meanwhile: a checkpoint or autovacuum under a slow level.
      if [ "$name" = pg ]; then echo "  postgres: $(python3 bench/pg_activity.py "$work/pg.before" "$work/pg.after")"; fi
      if [ -n "$perf_pid" ]; then profile_report "$name-$kind-70" "$PID"; fi
    done
  done
}

# --- PostgreSQL + Redis ---
pg_rss=""
if [ "${ONLY:-}" != sqlite ]; then
  psql "$SMS_TEST_POSTGRES_URL" -qc "CREATE DATABASE $db" >/dev/null
  start_redis
  DB_URL="${SMS_TEST_POSTGRES_URL%/*}/$db"
  serve_warm postgres pg_backlog DATABASE_URL="$DB_URL" REDIS_URL="redis://127.0.0.1:$redis_port"
  PG_PID=$PID
  psql "$DB_URL" -qc "CREATE SEQUENCE IF NOT EXISTS bench_numbers START 1000000"
  psql "$DB_URL" -q -f bench/least_work_schema.sql >/dev/null
  tenant_id=$(psql "$DB_URL" -Atc "SELECT id FROM tenants WHERE subdomain = 'bench'")
  # The own-schema runs' messages are never due (bench/durable_work.sql); they go after each run, so
  # the outbox the worker scans holds only the endpoint's.
  own_run() { pgbench_run bench/durable_work.sql "$1"; psql "$DB_URL" -qc "DELETE FROM messages WHERE next_attempt_at = 'infinity'" >/dev/null; }
  pgbench_run bench/least_work.sql 5 >/dev/null
  pgbench_run bench/whole_least_work.sql 5 >/dev/null
  own_run 5 >/dev/null
  commits() { psql "$DB_URL" -Atc "SELECT xact_commit FROM pg_stat_database WHERE datname = '$db'"; }
  # Rounds alternate the endpoint and pgbench, so a drift of the machine's speed (it is shared)
  # touches both; the summary takes the median of each.
  statements=""
  if [ "${STATEMENTS:-0}" = 1 ]; then
    # The extension can be created without the library loaded; only a call tells.
    psql "$DB_URL" -qc "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null 2>&1 \
      && psql "$DB_URL" -Atqc "SELECT pg_stat_statements_reset()" >/dev/null 2>&1 && statements=1 \
      || log "STATEMENTS=1 needs shared_preload_libraries = 'pg_stat_statements'; skipped"
  fi
  for round in $(seq 1 "$rounds"); do
    before=$(commits)
    if [ -n "$statements" ]; then psql "$DB_URL" -Atqc "SELECT pg_stat_statements_reset()" >/dev/null; fi
    scrape before
    line=$(drive "$B" "$seconds" "$([ "$round" = 1 ] && echo postgres)")
    scrape after
    # Commits per request: the server's transactions (the chat's, the worker's, the events'),
    # and every statement outside one, per request served.
    per_request=$(python3 -c "print(f'{($(commits) - $before) / max(1, $(value "$line" requests)):.1f}')")
    drained=$(drain pg_backlog)
    if [ -n "$statements" ]; then
      echo "-- postgres: statements by total execution time (round $round and its drain; per request served)"
      psql "$DB_URL" -Atc "SELECT lpad(round(total_exec_time::numeric / 1000, 2)::text, 7) || ' s  ' ||
          lpad(round(calls::numeric / $(value "$line" requests), 3)::text, 6) || ' calls/req  ' ||
          lpad(round(mean_exec_time::numeric, 3)::text, 7) || ' ms  ' ||
          left(regexp_replace(query, '\s+', ' ', 'g'), 110)
        FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        ORDER BY total_exec_time DESC LIMIT 15"
    fi
    echo "$line db_commits_per_request=$per_request $drained" >>"$work/pg.lines"
    perf_pid=
    if [ "$round" = 1 ] && [ "${PERF:-0}" = 1 ]; then
      perf record -q -a -g -F 499 -o bench/profiles/pgbench.data -- sleep "$seconds" >/dev/null 2>&1 &
      perf_pid=$!
    fi
    whole=$(pgbench_run bench/whole_least_work.sql "$seconds")
    if [ -n "$perf_pid" ]; then wait "$perf_pid" || true; fi
    floor=$(pgbench_run bench/least_work.sql "$seconds")
    own=$(own_run "$seconds")
    echo "WHOLE $whole" >>"$work/whole.lines"
    echo "FLOOR $floor" >>"$work/floor.lines"
    echo "OWN $own" >>"$work/own.lines"
    echo "round $round: endpoint (PostgreSQL + Redis) $line db_commits_per_request=$per_request $drained"
    waits_line
    echo "round $round: whole job's least work $whole; the send's least work $floor; own schema $own"
  done
  profile_report postgres "$PG_PID"
  if [ "${PERF:-0}" = 1 ]; then
    echo "-- pgbench: CPU samples by process"
    perf report -q -i bench/profiles/pgbench.data --no-children --sort comm --stdio -g none 2>/dev/null | tidy | head -n 6 || true
  fi

  # --- replies into the chats the rounds opened ---
  read -r first last < <(psql "$DB_URL" -Atc "SELECT MIN(id) || ' ' || (MIN(id) + 149) FROM chats WHERE status = 'selecting'")
  reply_rounds "PostgreSQL + Redis" pg_backlog "$work/reply.lines"
  open_rates pg "$work/pg.lines" "$work/reply.lines" pg_backlog
  # The floor at a steady rate: pgbench's whole job, and the send's least work (one commit,
  # beside the service's sends), each throttled (-R) to 30, 50 and 70 % of its median rate.
  # pgbench counts a throttled transaction's latency from when it was scheduled, so coordinated
  # omission is corrected as in the open loop: the tail this machine gives the least work at the
  # loads the goal names.
  median_tps() { python3 -c "import statistics, sys; print(statistics.median(float(l.split('tps=')[1].split()[0]) for l in open(sys.argv[1])))" "$1"; }
  for least in whole floor; do
    least_rps=$(median_tps "$work/$least.lines")
    for pct in 30 50 70; do
      rate=$(python3 -c "print(round($pct / 100 * $least_rps))")
      line=$(pgbench_run "bench/$([ "$least" = whole ] && echo whole_least_work || echo least_work).sql" "$seconds" -R "$rate")
      echo "OPEN pct=$pct rate=$rate $line" >>"$work/$least.open.lines"
      echo "open loop: $([ "$least" = whole ] && echo "the whole job's" || echo "the send's") least work at $pct % ($rate/s): $line"
    done
  done
  pg_rss=$(peak_rss_mb "$PG_PID")
  logged postgres
  # Nothing of PostgreSQL's runs beside the SQLite part: its server stops, its database goes and
  # PostgreSQL writes out what the rounds dirtied now, not while SQLite syncs on the same disk.
  kill "$PG_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$PG_PID" 2>/dev/null || break; sleep 0.1; done
  psql "$SMS_TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
  psql "$SMS_TEST_POSTGRES_URL" -qc "CHECKPOINT" >/dev/null 2>&1 || log "CHECKPOINT needs a superuser; PostgreSQL may still be writing beside the SQLite part"
fi

# --- the embedded default: SQLite, in-process lock ---
lite_rss=""
chats_open=""
if [ "${ONLY:-}" != postgres ]; then
  rm -f "$work/runs" # a database of its own: its runs may reuse the numbers
  serve_warm sqlite lite_backlog DATABASE_URL="sqlite://$work/bench.sqlite3" SMS_DATA_DIR="$work/data"
  LITE_PID=$PID
  for round in $(seq 1 "$rounds"); do
    scrape before
    line=$(drive "$B" "$seconds" "$([ "$round" = 1 ] && echo sqlite)")
    scrape after
    drained=$(drain lite_backlog)
    echo "$line $drained" >>"$work/lite.lines"
    echo "round $round: endpoint (SQLite) $line $drained"
    waits_line
  done
  lite_sql() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$work/bench.sqlite3" "$1"; }
  read -r first last < <(lite_sql "SELECT MIN(id) || ' ' || (MIN(id) + 149) FROM chats WHERE status = 'selecting'")
  reply_rounds SQLite lite_backlog "$work/lite_reply.lines"
  open_rates lite "$work/lite.lines" "$work/lite_reply.lines" lite_backlog
  profile_report sqlite "$LITE_PID"
  if [ "${CHATS:-0}" -gt 0 ]; then
    open_chats() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT COUNT(*) FROM chats WHERE status = 'selecting'\").fetchone()[0])" "$work/bench.sqlite3"; }
    # More rounds of new consumers until CHATS chats are open at once (runs 1-7 number their own).
    while [ "$(open_chats)" -lt "$CHATS" ] && [ "$(cat "$work/runs")" -lt 8 ]; do drive "$B" 30 >/dev/null; done
    chats_open=$(open_chats)
    echo "SQLite: $chats_open chats open, peak RSS $(peak_rss_mb "$LITE_PID") MB"
  fi
  lite_rss=$(peak_rss_mb "$LITE_PID")
  logged sqlite
fi

python3 - "$work" "$seconds" "$connections" "$(nproc)" "$rounds" "$pg_rss" "$lite_rss" "$chats_open" <<'SUMMARY'
import statistics, sys
work, seconds, connections, cores, rounds, pg_rss, lite_rss, chats_open = sys.argv[1:]
def runs(name):
    if (name.startswith("lite") and not lite_rss) or (not name.startswith("lite") and not pg_rss):
        return []
    return [dict(kv.split("=", 1) for kv in line.split()[1:]) for line in open(f"{work}/{name}.lines")]
def median(rows, key):
    return statistics.median(float(r[key]) for r in rows)
def worst(rows, key):
    values = [r[key] for r in rows]
    return ">30" if ">30" in values else f"{max(float(v) for v in values):.1f}"
def mark(ok):
    return "met" if ok else "NOT met"
pg, lite, replies, lite_replies = runs("pg"), runs("lite"), runs("reply"), runs("lite_reply")
whole, floors, own = runs("whole"), runs("floor"), runs("own")
total = lambda rows, key: sum(int(r[key]) for r in rows)
rss_note = f", {chats_open} chats open" if chats_open else ""
def drained(r):
    return float(r["drain_s"]) if r["drain_s"] != ">30" else 99
def whole_job(sends):
    """SMS per second of the whole job: the sends of a round over the round and its drain, so
    that work put off until after the load stopped is not counted as done."""
    return statistics.median(int(r["requests"]) / (float(r["duration_s"]) + drained(r)) for r in sends)
def closed(name, sends, answers):
    errors = total(sends, "errors") + total(sends, "non2xx") + total(answers, "errors") + total(answers, "non2xx")
    drain = max(drained(r) for r in sends + answers)
    print(f"""  send:    {median(sends, 'rps'):.1f} requests/s, p50 {median(sends, 'p50_ms'):.2f} ms, p99 {median(sends, 'p99_ms'):.2f} ms, errors {total(sends, 'errors')}, non-2xx {total(sends, 'non2xx')}
           the whole job, the drain counted: {whole_job(sends):.1f} SMS/s
           CPU time per send: the server {median(sends, 'server_cpu_ms'):.3f} ms, the whole machine {median(sends, 'machine_cpu_ms'):.3f} ms
           {switches(sends)}
           backlog when the load stopped (messages/deliveries): {', '.join(r['backlog_at_stop'] for r in sends)}
  replies: {median(answers, 'rps'):.1f} requests/s, p50 {median(answers, 'p50_ms'):.2f} ms, p99 {median(answers, 'p99_ms'):.2f} ms, errors {total(answers, 'errors')}, non-2xx {total(answers, 'non2xx')}
  everything sent and told within {drain:.1f} s of the load stopping (goal <= 3: {mark(drain <= 3)}); errors {errors} (goal 0: {mark(errors == 0)})""")
def switches(rows):
    """The hand-offs a request cost: the server's threads going to sleep, the machine's switches."""
    if not rows or "server_sleeps" not in rows[0]:
        return "sleeps per request: not measured"
    # A thread that ended during a run took its count with it (as for the waits below).
    kept = [float(r["server_sleeps"]) for r in rows if float(r["server_sleeps"]) >= 0]
    sleeps = f"{statistics.median(kept):.1f}" if kept else "n/a (a thread ended)"
    return f"sleeps per request: the server's threads {sleeps}, the machine's context switches {median(rows, 'machine_switches'):.1f}"
def open_loop(name):
    rows = runs(f"{name}.open")
    print("  open loop, coordinated omission corrected (p50 / p99 / p99.9 ms):")
    ok = True
    for kind in ("send", "reply"):
        cells = []
        for r in (r for r in rows if r["kind"] == kind):
            cells.append(f"{r['pct']} % ({float(r['rate']):.0f}/s): {float(r['p50_ms']):.2f} / {float(r['p99_ms']):.2f} / {float(r['p999_ms']):.2f}")
            if r["pct"] == "70":
                ok = ok and float(r["p99_ms"]) <= 10 and float(r["p999_ms"]) <= 20
            ok = ok and r["errors"] == "0" and r["non2xx"] == "0"
        print(f"    {kind + ':':7} " + "; ".join(cells))
    # A thread that ended during the run took its waits with it: the difference can come out
    # negative, and is then not a measure.
    runq = lambda v: f"{float(v):.2f}" if float(v) >= 0 else "n/a (a thread ended)"
    waits = [f"{r['kind']} {r['pct']} % {runq(r['server_runq_ms'])}" for r in rows if "server_runq_ms" in r]
    print("    the server's threads waiting for a core, ms per request: " + ", ".join(waits))
    costs = [f"{r['kind']} {r['pct']} % {float(r['server_cpu_ms']):.2f} / {float(r['machine_cpu_ms']):.2f} / {r['machine_busy']} %"
             for r in rows if "machine_busy" in r]
    if costs:
        print("    CPU per request, the server / the whole machine (ms), and the machine busy: " + ", ".join(costs))
    sleeps = [f"{r['kind']} {r['pct']} % {runq(r['server_sleeps'])} / {float(r['machine_switches']):.1f}"
              for r in rows if "server_sleeps" in r]
    if sleeps:
        print("    sleeps per request, the server's threads / the machine's context switches: " + ", ".join(sleeps))
    errors = sum(int(r["errors"]) for r in rows)
    non2xx = sum(int(r["non2xx"]) for r in rows)
    print(f"    goal at 70 %: p99 <= 10 ms and p99.9 <= 20 ms, no error (errors {errors}, non-2xx {non2xx}): {mark(ok)}")
def floor_open(name):
    """A least work's own tail at the open loop's loads (pgbench -R), and whether it meets
    the bound the goal sets the service at 70 %."""
    rows = runs(f"{name}.open")
    cells = [f"{r['pct']} % ({float(r['tps']):.0f}/s): {float(r['p50_ms']):.2f} / {float(r['p99_ms']):.2f} / {float(r['p999_ms']):.2f}"
             f" ({float(r['tps']) * float(r['machine_cpu_ms']) / 10 / int(cores):.0f} % busy)" for r in rows]
    at70 = [r for r in rows if r["pct"] == "70"]
    within = bool(at70) and float(at70[0]["p99_ms"]) <= 10 and float(at70[0]["p999_ms"]) <= 20
    return ("  at a steady rate, throttled (pgbench -R; p50 / p99 / p99.9 ms): " + "; ".join(cells)
            + f"\n  within the service's bound at 70 % (p99 <= 10 ms, p99.9 <= 20 ms) itself: {'yes' if within else 'no'}")
if pg:
    whole_tps, floor_tps = median(whole, "tps"), median(floors, "tps")
    ratio = whole_job(pg) / whole_tps
    print(f"""
== summary: median of {rounds} rounds of {seconds} s, {connections} connections, {cores} cores shared with the load generator
PostgreSQL + Redis, worker and events on (the whole job):""")
    closed("pg", pg, replies)
    open_loop("pg")
    print(f"""  peak RSS {pg_rss} MB (goal < 100: {mark(float(pg_rss) < 100)})
the whole job's least durable work (pgbench -M prepared, two commits per SMS): {whole_tps:.1f} SMS/s, p50 {median(whole, 'p50_ms'):.2f} ms, p99 {median(whole, 'p99_ms'):.2f} ms, the whole machine's CPU time per SMS {median(whole, 'machine_cpu_ms'):.3f} ms
{floor_open("whole")}
the send's least durable work (pgbench -M prepared, one commit): {floor_tps:.1f} transactions/s; the send's work on the own schema: {median(own, 'tps'):.1f}/s
{floor_open("floor")}
ratio: the whole job at {ratio:.2f} of its least durable work (goal >= 1.0: {mark(ratio >= 1.0)}); {median(pg, 'rps') / floor_tps:.2f} of the send's least work""")
else:
    print(f"""
== summary: median of {rounds} rounds of {seconds} s, {connections} connections, {cores} cores shared with the load generator
PostgreSQL: not run (ONLY=sqlite)""")
if not lite:
    print("SQLite: not run (ONLY=postgres)")
    sys.exit(0)
print("SQLite, in-process lock, worker and events on (the whole job):")
closed("lite", lite, lite_replies)
open_loop("lite")
print(f"""  {whole_job(lite):.1f} SMS/s, the drain counted (goal >= 2000: {mark(whole_job(lite) >= 2000)}); peak RSS {lite_rss} MB{rss_note} (goal < 100: {mark(float(lite_rss) < 100)})""")
SUMMARY
