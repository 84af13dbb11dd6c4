#!/usr/bin/env bash
# The docker-compose topology, run for real without Docker, on loopback: PostgreSQL, a Redis of
# its own with a password, several sms-server instances and nginx (Debian's package) in front,
# configured by deploy/nginx.conf itself (its Docker-only lines rewritten for loopback: the
# upstream addresses, the listeners' ports, the pid and temporary files). Runs the README
# walk-through through the load balancer (the tenant API on the public listener, the admin API on
# the operators' one), checks that the instances shared the work, that the public listener hides
# the admin API and /metrics, and that Twilio's callbacks have a rate-limit zone of their own,
# then stops everything. `scripts/cluster.sh [INSTANCES]` (default 3).
# nginx connects to the instances from 127.0.0.1, so they take the client's address from that
# peer's X-Forwarded-For (SMS_TRUSTED_PROXIES=127.0.0.1/32), as compose's instances trust the
# compose network.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

instances=${1:-3}
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { log "installing nginx"; apt_install nginx; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
ensure_postgres
command -v redis-server >/dev/null 2>&1 || { log "installing redis-server"; apt_install redis-server; }
cargo build -q --locked -p sms-server
BIN=target/debug/sms-server

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
chmod 755 "$work"
db="sms_cluster_$$"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  psql "$SMS_TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

psql "$SMS_TEST_POSTGRES_URL" -qc "CREATE DATABASE $db" >/dev/null
DATABASE_URL="${SMS_TEST_POSTGRES_URL%/*}/$db"

# Redis asks for a password, as in docker-compose.yml (hex: nothing to escape in the URL). It is
# in a configuration file readable by this user only, not on a command line.
redis_port=$(free_port)
redis_password=$(openssl rand -hex 24)
printf 'port %s\nbind 127.0.0.1\nappendonly yes\ndir %s\nrequirepass %s\n' "$redis_port" "$work" "$redis_password" >"$work/redis.conf"
chmod 600 "$work/redis.conf"
redis-server "$work/redis.conf" >"$work/redis.log" 2>&1 &
pids+=($!)
redis_ping() { REDISCLI_AUTH="$redis_password" redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null; }
for _ in $(seq 1 50); do [ "$(redis_ping)" = PONG ] && break; sleep 0.1; done
[ "$(redis_ping)" = PONG ] || { cat "$work/redis.log" >&2; exit 1; }
if [ "$(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>&1)" = PONG ]; then
  echo "cluster: FAILED: Redis answers without its password" >&2; exit 1
fi

export SMS_JWT_SECRET; SMS_JWT_SECRET=$(openssl rand -hex 32)
lb_port=$(free_port)
admin_port=$(free_port)
ports=()
for i in $(seq 1 "$instances"); do
  port=$(free_port)
  ports+=("$port")
  DATABASE_URL="$DATABASE_URL" REDIS_URL="redis://:$redis_password@127.0.0.1:$redis_port" SMS_BIND="127.0.0.1:$port" \
    SMS_TRUSTED_PROXIES=127.0.0.1/32 SMS_PUBLIC_URL="http://127.0.0.1:$lb_port" SMS_LOG=warn \
    "$BIN" >"$work/sms-$i.out" 2>"$work/sms-$i.err" &
  pids+=($!)
done
for i in $(seq 1 "$instances"); do
  for _ in $(seq 1 100); do grep -q "^Serving on" "$work/sms-$i.out" 2>/dev/null && break; sleep 0.1; done
  grep -q "^Serving on" "$work/sms-$i.out" || { cat "$work/sms-$i.err" >&2; exit 1; }
done

# deploy/nginx.conf, with what only Docker has (its DNS, the service name, stdout) replaced by
# loopback addresses and files in $work. X-Upstream names the instance that answered.
python3 - deploy/nginx.conf "$work" "$lb_port" "$admin_port" "${ports[@]}" >"$work/nginx.conf" <<'PY'
import sys

source, work, lb_port, admin_port, *ports = sys.argv[1:]
conf = open(source).read()


def swap(old: str, new: str) -> None:
    global conf
    if conf.count(old) != 1:
        sys.exit(f"cluster: deploy/nginx.conf must have the line {old.strip()!r} exactly once")
    conf = conf.replace(old, new)


swap("\nworker_processes auto;\n", f"\nworker_processes 1;\npid {work}/nginx.pid;\nerror_log {work}/nginx-error.log warn;\n")
temp = "".join(f"    {kind}_temp_path {work}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
swap("\n    resolver 127.0.0.11 valid=10s ipv6=off;\n", "\n" + temp + "    add_header X-Upstream $upstream_addr always;\n")
swap("\n        server sms:8080 resolve;\n", "\n" + "".join(f"        server 127.0.0.1:{port};\n" for port in ports))
swap("\n    access_log /dev/stdout safe;\n", f"\n    access_log {work}/access.log safe;\n")
swap("\n        listen 8080;\n", f"\n        listen 127.0.0.1:{lb_port};\n")
swap("\n        listen 8081;\n", f"\n        listen 127.0.0.1:{admin_port};\n")
print(conf, end="")
PY
"$NGINX" -e "$work/nginx-error.log" -c "$work/nginx.conf" -p "$work"
B="http://127.0.0.1:$lb_port"
A="http://127.0.0.1:$admin_port"
for _ in $(seq 1 50); do curl -sf "$B/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
log "cluster: $instances instances behind nginx at $B (operators' listener $A), PostgreSQL database $db, Redis on $redis_port"

ADMIN=$("$BIN" admin-token --ttl 600)
bash scripts/walkthrough.sh "$B" "$ADMIN" acme "$A"

passed=0
check() { # check WHAT EXPECTED ACTUAL
  if [ "$2" != "$3" ]; then echo "cluster: FAILED: $1: expected [$2], got [$3]" >&2; exit 1; fi
  passed=$((passed + 1)); echo "ok: $1"
}
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
used=$(for _ in $(seq 1 12); do curl -s -o /dev/null -D - "$B/healthz" | tr -d '\r' | sed -n 's/^X-Upstream: //Ip'; done | sort -u | wc -l)
echo "load balancer: $used of $instances instances answered"
check "the load balancer spread the requests" yes "$([ "$used" -ge 2 ] && echo yes || echo "no, $used instance(s)")"
check "the public listener hides the admin API" 404 "$(code "$B/admin/v1/tenants" -H "Authorization: Bearer $ADMIN")"
check "the public listener hides /metrics" 404 "$(code "$B/metrics")"
check "the operators' listener serves /metrics" 200 "$(code "$A/metrics")"
# One client over its limit on the public listener (50 a second, bursts of 100), while Twilio's
# callbacks from the same address keep reaching the service through their own zone (unsigned,
# so the service answers them 403).
python3 - "$B" >"$work/flood.txt" <<'PY'
import concurrent.futures
import sys
import urllib.error
import urllib.request

base = sys.argv[1]


def status(request) -> int:
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


# Sixteen connections at a time, so that the client goes over 50 a second on any machine.
with concurrent.futures.ThreadPoolExecutor(16) as pool:
    floods, callbacks = [], []
    for i in range(600):
        floods.append(pool.submit(status, base + "/healthz"))
        if i % 30 == 29:
            callback = urllib.request.Request(base + "/webhooks/twilio/acme/status", data=b"MessageStatus=sent", method="POST")
            callbacks.append(pool.submit(status, callback))
    limited = sum(f.result() == 429 for f in floods)
    twilio = {}
    for f in callbacks:
        twilio[f.result()] = twilio.get(f.result(), 0) + 1
print("limited" if limited else "never limited", sorted(twilio.items()))
PY
check "a flooding client is refused 429 while Twilio's callbacks get through" "limited [(403, 20)]" "$(cat "$work/flood.txt")"
echo "cluster: $passed passed, 0 failed"
