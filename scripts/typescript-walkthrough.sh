#!/usr/bin/env bash
# The README walk-through through the TypeScript client, exactly as the README's recipe runs it:
# in clients/typescript, `npm ci`, `npm run generate` (openapi-typescript's types from the
# committed openapi/openapi.json), `npm run typecheck` (tsc --noEmit), `npm run build`, then
# `npm run walkthrough` against a live server: a fresh debug build on a temporary SQLite database
# with the delivery worker (log provider) and the event worker on, so the walk-through's own
# receiver gets the tenant's events and verifies them with the standardwebhooks library.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

if ! command -v npm >/dev/null 2>&1; then log "installing Node.js and npm"; apt_install nodejs npm; fi
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
  || { echo "Node.js 20 or later is needed (found $(node --version))" >&2; exit 1; }

cargo build -q --locked -p sms-server
work=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

SMS_EVENTS_POLL_MS=100 SMS_DATA_DIR="$work/data" SMS_BIND=127.0.0.1:0 SMS_LOG=warn target/debug/sms-server \
  >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
base=""
for _ in $(seq 1 100); do
  base=$(sed -n 's/^Serving on \(http:[^ ]*\).*/\1/p' "$work/server.out")
  [ -n "$base" ] && break
  sleep 0.1
done
[ -n "$base" ] || { cat "$work/server.err" >&2; exit 1; }
SMS_ADMIN=$(SMS_DATA_DIR="$work/data" target/debug/sms-server admin-token --ttl 3600)
export SMS_BASE_URL="$base" SMS_ADMIN
log "server at $SMS_BASE_URL"

cd clients/typescript
log "npm ci"
npm ci --no-audit --no-fund --loglevel=error
log "npm run generate: types from openapi/openapi.json"
npm run -s generate
log "npm run typecheck: tsc --noEmit"
npm run -s typecheck
npm run -s build
log "npm run walkthrough"
npm run -s walkthrough
