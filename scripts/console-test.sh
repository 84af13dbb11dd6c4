#!/usr/bin/env bash
# The console in a real browser (README "The console"): Debian's Chromium driven by Playwright
# (from the npm registry, without a browser download of its own) and axe-core, against a real
# sms-server on SQLite with a local fake Twilio (scripts/fake_twilio.py) and the delivery
# worker on. console-tests/tests/console.spec.js sets up its tenants through the admin API and
# signs Twilio's callbacks with the fake's token. The screenshots land in target/console-screenshots
# (SCREENSHOT_DIR to change it; `--update-docs` copies them into docs/screenshots).
# Exit status: Playwright's.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

update_docs=""
if [ "${1:-}" = "--update-docs" ]; then update_docs=1; shift; fi

command -v chromium >/dev/null 2>&1 || { log "installing Debian's chromium"; apt_install chromium fonts-dejavu-core; }
command -v node >/dev/null 2>&1 || { log "installing node"; apt_install nodejs npm; }
log "chromium: $(chromium --version 2>/dev/null | head -1); node $(node --version)"
( cd console-tests && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error )

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

cargo build -q --locked -p sms-server
TWILIO_PORT=$(free_port); SMS_PORT=$(free_port)
export TWILIO_ACCOUNT_SID="AC$(printf '%032x' 7)" TWILIO_AUTH_TOKEN=console-test-token
python3 scripts/fake_twilio.py --port "$TWILIO_PORT" --sid "$TWILIO_ACCOUNT_SID" --token "$TWILIO_AUTH_TOKEN" \
  --log "$work/twilio.jsonl" >/dev/null 2>&1 &
pids+=($!)
B="http://127.0.0.1:$SMS_PORT"
SMS_EVENTS_ALLOWED_NETWORKS=127.0.0.0/8 SMS_PROVIDER=twilio TWILIO_BASE_URL="http://127.0.0.1:$TWILIO_PORT" \
  SMS_DELIVERY_POLL_MS=200 SMS_PUBLIC_URL="$B" SMS_BIND="127.0.0.1:$SMS_PORT" SMS_DATA_DIR="$work/data" SMS_LOG=warn \
  target/debug/sms-server >"$work/server.out" 2>"$work/server.err" &
pids+=($!)
for _ in $(seq 1 100); do curl -sf "$B/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "$B/healthz" >/dev/null || { cat "$work/server.err" >&2; exit 1; }

export CONSOLE_BASE_URL="$B"
CONSOLE_ADMIN_TOKEN=$(SMS_DATA_DIR="$work/data" target/debug/sms-server admin-token)
export CONSOLE_ADMIN_TOKEN
export SCREENSHOT_DIR="${SCREENSHOT_DIR:-$PWD/target/console-screenshots}"
status=0
( cd console-tests && npx playwright test "$@" ) || status=$?
if [ "$status" != 0 ]; then
  log "browser tests failed; the server's log:"; tail -50 "$work/server.err" >&2 || true
fi
if [ -n "$update_docs" ] && [ "$status" = 0 ]; then
  mkdir -p docs/screenshots && cp "$SCREENSHOT_DIR"/*.png docs/screenshots/
  log "screenshots copied into docs/screenshots"
fi
echo "console browser tests: exit $status"
exit "$status"
