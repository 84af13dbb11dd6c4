#!/usr/bin/env bash
# The OpenAPI contract, checked against a live server:
#   1. Schemathesis fuzzes every operation with every check on (no 5xx, no answer that
#      disagrees with the document);
#   2. a Python client generated from openapi/openapi.json by openapi-python-client runs the
#      README walk-through (clients/python/walkthrough.py) and asserts the answers.
# The server is a fresh debug build on a temporary SQLite database. Python tools are installed
# in target/contract-venv, pinned.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

venv=target/contract-venv
if [ ! -x "$venv/bin/schemathesis" ] || [ ! -x "$venv/bin/openapi-python-client" ]; then
  log "installing schemathesis, openapi-python-client and ruff into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check \
    "schemathesis==4.32.5" "openapi-python-client==0.29.1" "ruff==0.17.6"
fi
export PATH="$PWD/$venv/bin:$PATH"

cargo build -q --locked -p sms-server
work=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# No event worker: the fuzzer registers endpoints at URLs it makes up, and nothing here may post
# to an address off this machine. The walk-through registers one on loopback, which only an
# allowed network may name (SMS_EVENTS_ALLOWED_NETWORKS). Schemathesis sends requests without and
# with wrong credentials on purpose, far more than SMS_AUTH_FAILURES_PER_MINUTE's default of 60 a
# minute from this one address; the limit (tested on its own by the HTTP suite) is raised so that
# they keep answering 401.
serve_debug "$work" SMS_EVENTS_WORKER=off SMS_EVENTS_ALLOWED_NETWORKS=127.0.0.0/8 SMS_AUTH_FAILURES_PER_MINUTE=1000000
log "server at $SMS_BASE_URL"

log "generated Python client: the README walk-through"
openapi-python-client generate --path openapi/openapi.json --output-path "$work/client/outbound_sms_api_client" \
  --overwrite --meta none >/dev/null
PYTHONPATH="$work/client" python3 clients/python/walkthrough.py

# A tenant with a token, a number and an agent, for the fuzzer's credentials.
api() { curl -sf -X "$1" "$SMS_BASE_URL$2" -H "Authorization: Bearer $SMS_ADMIN" -H 'Content-Type: application/json' ${3:+-d "$3"}; }
api POST /admin/v1/tenants '{"subdomain": "fuzz", "name": "Fuzz", "rate_limit_per_second": 0}' >/dev/null
token=$(api POST /admin/v1/tenants/fuzz/api-tokens | sed -E 's/.*"token":"([^"]+)".*/\1/')
api POST /admin/v1/tenants/fuzz/outbound-numbers '{"number": "+1 628-555-0199"}' >/dev/null
api POST /admin/v1/tenants/fuzz/agents '{"email": "john.doe@foo.com", "first_name": "John", "last_name": "Doe"}' >/dev/null
SMS_BASIC=$(printf 'fuzz:%s' "$token" | base64 -w0)
export SMS_BASIC

log "schemathesis: every operation, every check"
# CPython 3.11 before 3.11.8 can raise a spurious SystemError ("AST constructor recursion depth
# mismatch", CPython issue 106905: the ast module's recursion counter is shared between threads)
# inside Hypothesis while it describes a lambda. One worker thread avoids it; should it still
# happen, Schemathesis reports a runtime error of the tool, not a failure of the API, and such a
# run, and only such a run (errors, no failures), is tried again.
# Hypothesis's filter_too_much health check is off: the provider callbacks' bodies are forms,
# documented as one string of application/x-www-form-urlencoded, and generating such a string
# sometimes discards too many drafts; that is a verdict on the generator's efficiency, never on
# an answer of the API (every check still runs on every example it does generate).
for attempt in 1 2 3; do
  status=0
  schemathesis --config-file clients/schemathesis.toml run openapi/openapi.json --url "$SMS_BASE_URL" \
    --checks all --workers 1 --max-examples "${SMS_FUZZ_EXAMPLES:-50}" --suppress-health-check=filter_too_much \
    --no-color 2>&1 | tee "$work/schemathesis.log" || status=$?
  [ "$status" = 0 ] && break
  if grep -q "^Failures:" "$work/schemathesis.log" || ! grep -q "AST constructor recursion depth mismatch" "$work/schemathesis.log"; then
    exit "$status"
  fi
  log "schemathesis hit the interpreter's AST bug (attempt $attempt); running again"
done
[ "$status" = 0 ] || exit "$status"
