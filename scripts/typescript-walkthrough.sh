#!/usr/bin/env bash
# The README walk-through through the TypeScript client, exactly as the README's recipe runs it:
# in clients/typescript, `npm ci`, `npm run generate` (openapi-typescript's types from the
# committed openapi/openapi.json), `npm run typecheck` (tsc --noEmit), `npm run build`, then
# `npm run walkthrough` against a live server: a fresh debug build on a temporary SQLite database
# with the delivery worker (log provider) and the event worker on, so the walk-through's own
# receiver gets the tenant's events and verifies them with the standardwebhooks library. That
# receiver is on loopback, which event webhooks reach only inside SMS_EVENTS_ALLOWED_NETWORKS.
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

serve_debug "$work" SMS_EVENTS_POLL_MS=100 SMS_EVENTS_ALLOWED_NETWORKS=127.0.0.0/8
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
