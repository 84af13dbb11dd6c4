#!/usr/bin/env bash
# The README's delivery walk-through, run for real: sms-server with SMS_PROVIDER=twilio pointed
# at a local fake Twilio (scripts/fake_twilio.py); a message goes out, a signed delivery report
# lands, a signed reply joins the chat, and STOP blocks the next send. Each answer is checked.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
checks=0
expect() { # expect WHAT EXPECTED ACTUAL
  if [ "$2" != "$3" ]; then echo "twilio walk-through: FAILED: $1: expected [$2], got [$3]" >&2; exit 1; fi
  checks=$((checks + 1)); echo "ok: $1"
}

cargo build -q --locked -p sms-server
TWILIO_PORT=$(free_port); SMS_PORT=$(free_port)
export TWILIO_ACCOUNT_SID=AC0123456789 TWILIO_AUTH_TOKEN=local-test-token
python3 scripts/fake_twilio.py --port "$TWILIO_PORT" --sid "$TWILIO_ACCOUNT_SID" --token "$TWILIO_AUTH_TOKEN" \
  --log "$work/twilio.jsonl" >/dev/null &
pids+=($!)
B="http://127.0.0.1:$SMS_PORT"
SMS_PROVIDER=twilio TWILIO_BASE_URL="http://127.0.0.1:$TWILIO_PORT" SMS_PUBLIC_URL="$B" SMS_BIND="127.0.0.1:$SMS_PORT" \
  SMS_DATA_DIR="$work/data" SMS_LOG=warn target/debug/sms-server >"$work/server.out" 2>"$work/server.err" &
pids+=($!)
for _ in $(seq 1 100); do curl -sf "$B/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
ADMIN=$(SMS_DATA_DIR="$work/data" target/debug/sms-server admin-token)

# --- the README's steps ---
curl -sf -X POST $B/admin/v1/tenants -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  -d '{"subdomain": "acme", "name": "Acme Inc.", "rate_limit_per_second": 0}' >/dev/null
TOKEN=$(curl -sf -X POST $B/admin/v1/tenants/acme/api-tokens -H "Authorization: Bearer $ADMIN" | sed -E 's/.*"token":"([^"]+)".*/\1/')
curl -sf -X POST $B/admin/v1/tenants/acme/outbound-numbers -H "Authorization: Bearer $ADMIN" \
  -H 'Content-Type: application/json' -d '{"number": "+1 628-555-0199"}' >/dev/null
send() {
  curl -s -o "$work/send.json" -w '%{http_code}' -u "acme:$TOKEN" -X POST $B/apps/api/v1/sms -H 'Content-Type: application/json' \
    -d '{"chat_type": "Messaging (SMS)", "end_user_number": "+1 415-555-0100", "outbound_number": "+1 628-555-0199", "message": "lorem ipsum"}'
}
expect "the SMS is accepted" 200 "$(send)"
CHAT=$(sed -E 's/^\{"id":([0-9]+).*/\1/' "$work/send.json")

first_status() { curl -sf -u "acme:$TOKEN" "$B/apps/api/v1/chats/$CHAT/messages" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["delivery_status"])'; }
for _ in $(seq 1 50); do [ "$(first_status)" = sent ] && break; sleep 0.1; done
expect "the message went out through Twilio" sent "$(first_status)"
expect "Twilio got To, From, Body and the status callback" \
  "+14155550100 +16285550199 lorem ipsum $B/webhooks/twilio/acme/status" \
  "$(python3 -c 'import json,sys; f=json.loads(open(sys.argv[1]).readline())["form"]; print(f["To"], f["From"], f["Body"], f["StatusCallback"])' "$work/twilio.jsonl")"

# Twilio's signature: Base64(HMAC-SHA1(auth token, URL + sorted name/value pairs)).
sign() { # sign PATH NAME=VALUE...
  local url="$B$1"; shift
  local payload="$url"
  while IFS= read -r pair; do payload+="${pair%%=*}${pair#*=}"; done < <(printf '%s\n' "$@" | LC_ALL=C sort)
  printf '%s' "$payload" | openssl dgst -sha1 -hmac "$TWILIO_AUTH_TOKEN" -binary | base64
}
post_form() { # post_form PATH SIGNATURE NAME=VALUE...
  local path=$1 sig=$2; shift 2
  local args=()
  for pair in "$@"; do args+=(--data-urlencode "$pair"); done
  curl -s -o /dev/null -w '%{http_code}' -X POST "$B$path" -H "X-Twilio-Signature: $sig" "${args[@]}"
}
STATUS=(MessageSid=SM1 MessageStatus=delivered AccountSid=$TWILIO_ACCOUNT_SID)
expect "a forged delivery report is refused" 403 "$(post_form /webhooks/twilio/acme/status forged "${STATUS[@]}")"
expect "the signed delivery report lands" 204 "$(post_form /webhooks/twilio/acme/status "$(sign /webhooks/twilio/acme/status "${STATUS[@]}")" "${STATUS[@]}")"
expect "the message reads delivered" delivered "$(first_status)"

REPLY=(From=+14155550100 To=+16285550199 "Body=Yes, call me" MessageSid=SMreply1)
expect "the signed reply is received" 200 "$(post_form /webhooks/twilio/acme/inbound "$(sign /webhooks/twilio/acme/inbound "${REPLY[@]}")" "${REPLY[@]}")"
expect "the reply joined the chat" "inbound Yes, call me" \
  "$(curl -sf -u "acme:$TOKEN" "$B/apps/api/v1/chats/$CHAT/messages" | python3 -c 'import json,sys; m=json.load(sys.stdin)[-1]; print(m["direction"], m["body"])')"

STOP=(From=+14155550100 To=+16285550199 Body=STOP MessageSid=SMreply2)
expect "STOP is received" 200 "$(post_form /webhooks/twilio/acme/inbound "$(sign /webhooks/twilio/acme/inbound "${STOP[@]}")" "${STOP[@]}")"
expect "STOP ended the chat" "finished disconnected_by_end_user" \
  "$(curl -sf -u "acme:$TOKEN" "$B/apps/api/v1/chats/$CHAT" | python3 -c 'import json,sys; c=json.load(sys.stdin); print(c["status"], c["disconnected_by"])')"
expect "the next send is refused" 400 "$(send)"
expect "because the consumer opted out" '{"message":"end_user_number has opted out"}' "$(cat "$work/send.json")"
echo "twilio walk-through: $checks passed, 0 failed"
