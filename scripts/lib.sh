# Shared helpers of the project's scripts: install what the build and tests need on a fresh
# Debian machine, and make sure PostgreSQL answers. Source it; do not run it.

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    log "need root for: $*"; return 1; fi
}

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# The C libraries diesel links against.
ensure_build_deps() {
  local missing=()
  for pkg in libpq-dev libsqlite3-dev libssl-dev pkg-config; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then log "installing ${missing[*]}"; apt_install "${missing[@]}"; fi
}

pg_answers() { psql "$1" -Atqc 'SELECT 1' >/dev/null 2>&1; }

# Makes SMS_TEST_POSTGRES_URL point at a PostgreSQL server that accepts the `postgres` user
# without a password: the one given, the machine's own cluster (started if it is down), or a
# private trust-auth cluster this script creates (installing the Debian package if absent).
ensure_postgres() {
  local url="${SMS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
  if ! command -v psql >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    log "installing PostgreSQL"
    apt_install postgresql postgresql-client
  fi
  if pg_answers "$url"; then export SMS_TEST_POSTGRES_URL="$url"; return 0; fi

  if command -v pg_lsclusters >/dev/null 2>&1; then
    local ver name
    while read -r ver name _; do
      log "starting PostgreSQL cluster $ver/$name"
      as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start >/dev/null 2>&1 || true
    done < <(pg_lsclusters -h 2>/dev/null)
    for _ in $(seq 1 20); do pg_answers "$url" && break; sleep 0.5; done
    if pg_answers "$url"; then export SMS_TEST_POSTGRES_URL="$url"; return 0; fi
  fi

  # A private cluster with trust auth on its own port, owned by the postgres OS user.
  local bin dir port=55432
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  dir="${SMS_PG_DIR:-/tmp/sms-test-pg}"
  url="postgres://postgres@127.0.0.1:$port/postgres"
  if ! pg_answers "$url"; then
    log "starting a private PostgreSQL on 127.0.0.1:$port ($dir)"
    if [ ! -f "$dir/PG_VERSION" ]; then
      as_root mkdir -p "$dir"; as_root chown postgres:postgres "$dir"
      as_root runuser -u postgres -- "$bin/initdb" -D "$dir" -A trust -U postgres >/dev/null
    fi
    as_root runuser -u postgres -- "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300" start >/dev/null
  fi
  pg_answers "$url" || { log "PostgreSQL does not answer at $url"; return 1; }
  export SMS_TEST_POSTGRES_URL="$url"
}

redis_answers() { [ "$(redis-cli -u "$1" ping 2>/dev/null)" = "PONG" ]; }

# Makes SMS_TEST_REDIS_URL point at a Redis that answers: the one given, or one this script
# starts on that address (installing Debian's redis-server if absent). The multi-instance test
# starts Redis servers of its own from the same binary.
ensure_redis() {
  local url="${SMS_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    log "installing redis-server"
    apt_install redis-server
  fi
  if ! redis_answers "$url"; then
    local hostport="${url#redis://}"; hostport="${hostport%%/*}"
    local port="${hostport##*:}"
    log "starting Redis on 127.0.0.1:$port"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
      --dir /tmp --logfile "/tmp/sms-test-redis-$port.log" >/dev/null
    for _ in $(seq 1 20); do redis_answers "$url" && break; sleep 0.25; done
  fi
  redis_answers "$url" || { log "Redis does not answer at $url"; return 1; }
  export SMS_TEST_REDIS_URL="$url"
}

# serve_debug WORK [ENV...]: starts target/debug/sms-server on a free loopback port with its data in
# WORK/data (and ENV, NAME=VALUE words, on top), waits until it serves, and sets server_pid,
# SMS_BASE_URL and SMS_ADMIN (an admin JWT valid for an hour). The caller kills server_pid.
# A caller whose event webhooks post to a receiver on loopback passes
# SMS_EVENTS_ALLOWED_NETWORKS=127.0.0.0/8 (and ::1/128 for IPv6): the server refuses loopback and
# private destinations outside the networks it is given.
serve_debug() {
  local work=$1; shift
  env "$@" SMS_DATA_DIR="$work/data" SMS_BIND=127.0.0.1:0 SMS_LOG=warn target/debug/sms-server \
    >"$work/server.out" 2>"$work/server.err" &
  server_pid=$!
  local base=""
  for _ in $(seq 1 100); do
    base=$(sed -n 's/^Serving on \(http:[^ ]*\).*/\1/p' "$work/server.out")
    [ -n "$base" ] && break
    sleep 0.1
  done
  [ -n "$base" ] || { cat "$work/server.err" >&2; exit 1; }
  SMS_ADMIN=$(SMS_DATA_DIR="$work/data" target/debug/sms-server admin-token --ttl 3600)
  export SMS_BASE_URL="$base" SMS_ADMIN
}
