#!/usr/bin/env bash
# The docker-compose topology, run for real without Docker, on loopback: PostgreSQL, a Redis of
# its own, several sms-server instances and nginx (Debian's package) in front. Runs the README
# walk-through through the load balancer, checks that the instances shared the work, then stops
# everything. `scripts/cluster.sh [INSTANCES]` (default 3).
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
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --appendonly yes --dir "$work" --daemonize no >"$work/redis.log" 2>&1 &
pids+=($!)
export SMS_JWT_SECRET; SMS_JWT_SECRET=$(openssl rand -hex 32)
lb_port=$(free_port)
upstreams=""
for i in $(seq 1 "$instances"); do
  port=$(free_port)
  DATABASE_URL="$DATABASE_URL" REDIS_URL="redis://127.0.0.1:$redis_port" SMS_BIND="127.0.0.1:$port" \
    SMS_PUBLIC_URL="http://127.0.0.1:$lb_port" SMS_LOG=warn "$BIN" >"$work/sms-$i.out" 2>"$work/sms-$i.err" &
  pids+=($!)
  upstreams+="        server 127.0.0.1:$port;"$'\n'
done
for i in $(seq 1 "$instances"); do
  for _ in $(seq 1 100); do grep -q "^Serving on" "$work/sms-$i.out" 2>/dev/null && break; sleep 0.1; done
  grep -q "^Serving on" "$work/sms-$i.out" || { cat "$work/sms-$i.err" >&2; exit 1; }
done

cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $work/body;
    proxy_temp_path $work/proxy;
    fastcgi_temp_path $work/fastcgi;
    uwsgi_temp_path $work/uwsgi;
    scgi_temp_path $work/scgi;
    upstream sms {
$upstreams        keepalive 16;
    }
    server {
        listen 127.0.0.1:$lb_port;
        location / {
            proxy_pass http://sms;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            add_header X-Upstream \$upstream_addr always;
        }
    }
}
NGINX
"$NGINX" -e "$work/nginx-error.log" -c "$work/nginx.conf" -p "$work"
B="http://127.0.0.1:$lb_port"
for _ in $(seq 1 50); do curl -sf "$B/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
log "cluster: $instances instances behind nginx at $B, PostgreSQL database $db, Redis on $redis_port"

ADMIN=$("$BIN" admin-token --ttl 600)
bash scripts/walkthrough.sh "$B" "$ADMIN"

used=$(for _ in $(seq 1 12); do curl -s -o /dev/null -D - "$B/healthz" | tr -d '\r' | sed -n 's/^X-Upstream: //Ip'; done | sort -u | wc -l)
echo "load balancer: $used of $instances instances answered"
[ "$used" -ge 2 ] || { echo "cluster: FAILED: the load balancer used $used instance(s)" >&2; exit 1; }
echo "cluster: 1 passed, 0 failed"
