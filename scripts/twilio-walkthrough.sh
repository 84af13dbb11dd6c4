#!/usr/bin/env bash
# The README's delivery and conversation walk-through, run for real: sms-server with
# SMS_PROVIDER=twilio pointed at a local fake Twilio (scripts/fake_twilio.py); a message goes out,
# a signed delivery report lands, the agent replies inside the chat with an MMS, a signed reply
# joins the chat, STOP blocks the next send and START lifts it. Each answer is checked.
# Meanwhile the tenant's event webhook endpoint is scripts/webhook_receiver.py, which verifies
# every delivery with the published `standardwebhooks` library (not this project's code): all
# seven event types must arrive verified, and after a secret rotation each delivery must verify
# under the old secret and under the new one. The receiver is on loopback, which event webhooks
# may reach only when the operator allows it: the server runs with SMS_EVENTS_ALLOWED_NETWORKS.
# Every callback names a MessageSid in Twilio's form (`SM` and 32 hexadecimal digits: the fake's
# sids for outbound messages, `SMf…` ones made up here for the consumer's replies) and, where it
# names AccountSid, the configured account.
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

venv=target/events-venv
if ! "$venv/bin/python" -c 'import standardwebhooks' 2>/dev/null; then
  log "installing standardwebhooks into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "standardwebhooks==1.3.0"
fi

cargo build -q --locked -p sms-server
TWILIO_PORT=$(free_port); SMS_PORT=$(free_port); RECEIVER_PORT=$(free_port)
"$venv/bin/python" scripts/webhook_receiver.py --port "$RECEIVER_PORT" --secrets-file "$work/secrets" \
  --log "$work/events.jsonl" >"$work/receiver.out" &
pids+=($!)
# The platform's own chat webhooks, verified as the platform's published sample verifies them.
CCAI_PORT=$(free_port)
python3 scripts/ccai_receiver.py --port "$CCAI_PORT" --secrets-file "$work/ccai-secrets" --log "$work/ccai.jsonl" \
  >"$work/ccai.out" &
pids+=($!)
export TWILIO_ACCOUNT_SID=AC0123456789 TWILIO_AUTH_TOKEN=local-test-token
python3 scripts/fake_twilio.py --port "$TWILIO_PORT" --sid "$TWILIO_ACCOUNT_SID" --token "$TWILIO_AUTH_TOKEN" \
  --log "$work/twilio.jsonl" >/dev/null &
pids+=($!)
B="http://127.0.0.1:$SMS_PORT"
SMS_EVENTS_ALLOWED_NETWORKS=127.0.0.0/8 SMS_EVENTS_RETRY_BASE_MS=200 SMS_EVENTS_POLL_MS=100 SMS_PROVIDER=twilio TWILIO_BASE_URL="http://127.0.0.1:$TWILIO_PORT" SMS_PUBLIC_URL="$B" SMS_BIND="127.0.0.1:$SMS_PORT" \
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
curl -sf -X POST $B/admin/v1/tenants/acme/agents -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  -d '{"email": "john.doe@foo.com", "first_name": "John", "last_name": "Doe"}' >/dev/null
WEBHOOK=$(curl -sf -X POST $B/admin/v1/tenants/acme/webhooks -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  -d "{\"url\": \"http://127.0.0.1:$RECEIVER_PORT/events\", \"description\": \"CRM\"}")
WEBHOOK_ID=$(printf '%s' "$WEBHOOK" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
printf '%s' "$WEBHOOK" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])' >"$work/secrets"
OLD_SECRET=$(cat "$work/secrets")
CCAI=$(curl -sf -X POST $B/admin/v1/tenants/acme/webhooks -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  -d "{\"url\": \"http://127.0.0.1:$CCAI_PORT/chat-events\", \"format\": \"ccai\", \"description\": \"written for the platform\"}")
CCAI_ID=$(printf '%s' "$CCAI" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
printf '%s' "$CCAI" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])' >"$work/ccai-secrets"
CCAI_OLD=$(cat "$work/ccai-secrets")
send() {
  curl -s -o "$work/send.json" -w '%{http_code}' -u "acme:$TOKEN" -X POST $B/apps/api/v1/sms -H 'Content-Type: application/json' \
    -d '{"chat_type": "Messaging (SMS)", "end_user_number": "+1 415-555-0100", "outbound_number": "+1 628-555-0199", "message": "lorem ipsum"}'
}
expect "the SMS is accepted" 200 "$(send)"
CHAT=$(sed -E 's/^\{"id":([0-9]+).*/\1/' "$work/send.json")

first_status() { curl -sf -u "acme:$TOKEN" "$B/apps/api/v1/chats/$CHAT/messages" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["delivery_status"])'; }
for _ in $(seq 1 50); do [ "$(first_status)" = sent ] && break; sleep 0.1; done
expect "the message went out through Twilio" sent "$(first_status)"
SID1=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["sid"])' "$work/twilio.jsonl")
expect "the fake answered a sid of Twilio's form" "SM$(printf '%032x' 1)" "$SID1"
expect "the message keeps Twilio's sid" "$SID1" \
  "$(curl -sf -u "acme:$TOKEN" "$B/apps/api/v1/chats/$CHAT/messages" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["provider_message_id"])')"
expect "Twilio got To, From, Body and the status callback" \
  "+14155550100 +16285550199 lorem ipsum $B/webhooks/twilio/acme/status" \
  "$(python3 -c 'import json,sys; f=json.loads(open(sys.argv[1]).readline())["form"]; print(f["To"], f["From"], f["Body"], f["StatusCallback"])' "$work/twilio.jsonl")"

REPLY_CODE=$(curl -s -o "$work/reply.json" -w '%{http_code}' -u "acme:$TOKEN" -X POST "$B/apps/api/v1/chats/$CHAT/messages" \
  -H 'Content-Type: application/json' \
  -d '{"message": "Here is your label", "agentEmail": "john.doe@foo.com", "media_urls": ["https://media.example.com/label.png"]}')
expect "the agent's reply is accepted" 201 "$REPLY_CODE"
expect "the chat is now the agent's" "assigned john.doe@foo.com" \
  "$(curl -sf -u "acme:$TOKEN" "$B/apps/api/v1/chats/$CHAT" | python3 -c 'import json,sys; c=json.load(sys.stdin); print(c["status"], c["agent_info"]["email"])')"
for _ in $(seq 1 50); do [ "$(wc -l <"$work/twilio.jsonl")" -ge 2 ] && break; sleep 0.1; done
expect "the reply went out as MMS from the chat's number" \
  "+14155550100 +16285550199 Here is your label https://media.example.com/label.png" \
  "$(python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).readlines()[1]); f=r["form"]; print(f["To"], f["From"], f["Body"], *r["media"])' "$work/twilio.jsonl")"

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
STATUS=(MessageSid=$SID1 MessageStatus=delivered AccountSid=$TWILIO_ACCOUNT_SID)
expect "a forged delivery report is refused" 403 "$(post_form /webhooks/twilio/acme/status forged "${STATUS[@]}")"
# Strict callbacks: signed, but not Twilio's shape, they answer 400 and change nothing.
SHORT=(MessageSid=SM1 MessageStatus=delivered AccountSid=$TWILIO_ACCOUNT_SID)
expect "a signed report whose MessageSid is not SM and 32 hex digits is refused" 400 \
  "$(post_form /webhooks/twilio/acme/status "$(sign /webhooks/twilio/acme/status "${SHORT[@]}")" "${SHORT[@]}")"
OTHER=(MessageSid=$SID1 MessageStatus=delivered "AccountSid=AC$(printf '%032x' 99)")
expect "a signed report of another account is refused" 400 \
  "$(post_form /webhooks/twilio/acme/status "$(sign /webhooks/twilio/acme/status "${OTHER[@]}")" "${OTHER[@]}")"
expect "the message still reads sent" sent "$(first_status)"
expect "the signed delivery report lands" 204 "$(post_form /webhooks/twilio/acme/status "$(sign /webhooks/twilio/acme/status "${STATUS[@]}")" "${STATUS[@]}")"
expect "the message reads delivered" delivered "$(first_status)"

REPLY=(From=+14155550100 To=+16285550199 "Body=Yes, call me" "MessageSid=SM$(printf 'f%031x' 1)")
expect "the signed reply is received" 200 "$(post_form /webhooks/twilio/acme/inbound "$(sign /webhooks/twilio/acme/inbound "${REPLY[@]}")" "${REPLY[@]}")"
expect "the reply joined the chat" "inbound Yes, call me" \
  "$(curl -sf -u "acme:$TOKEN" "$B/apps/api/v1/chats/$CHAT/messages" | python3 -c 'import json,sys; m=json.load(sys.stdin)[-1]; print(m["direction"], m["body"])')"

STOP=(From=+14155550100 To=+16285550199 Body=STOP "MessageSid=SM$(printf 'f%031x' 2)")
expect "STOP is received" 200 "$(post_form /webhooks/twilio/acme/inbound "$(sign /webhooks/twilio/acme/inbound "${STOP[@]}")" "${STOP[@]}")"
expect "STOP ended the chat" "finished disconnected_by_end_user" \
  "$(curl -sf -u "acme:$TOKEN" "$B/apps/api/v1/chats/$CHAT" | python3 -c 'import json,sys; c=json.load(sys.stdin); print(c["status"], c["disconnected_by"])')"
expect "the next send is refused" 400 "$(send)"
expect "because the consumer opted out" '{"message":"end_user_number has opted out"}' "$(cat "$work/send.json")"
START=(From=+14155550100 To=+16285550199 Body=Start "MessageSid=SM$(printf 'f%031x' 3)")
expect "START is received" 200 "$(post_form /webhooks/twilio/acme/inbound "$(sign /webhooks/twilio/acme/inbound "${START[@]}")" "${START[@]}")"
expect "the consumer can be texted again" 200 "$(send)"
# That send's message goes out, and its message.status_updated event is recorded, while the
# events below are read: wait for it, so that the last event this walk-through causes exists
# before the endpoint's deliveries are checked.
AGAIN=$(sed -E 's/^\{"id":([0-9]+).*/\1/' "$work/send.json")
for _ in $(seq 1 50); do [ "$(CHAT=$AGAIN first_status)" = sent ] && break; sleep 0.1; done
expect "the new chat's message went out" sent "$(CHAT=$AGAIN first_status)"

# --- the events, as the receiver verified them ---
verified_types() {
  python3 -c 'import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
print(" ".join(sorted({r["event"]["type"] for r in rows if r["verified_by"]})))' "$work/events.jsonl" 2>/dev/null
}
ALL="chat.assigned chat.created chat.ended consumer.opted_in consumer.opted_out message.received message.status_updated"
for _ in $(seq 1 100); do [ "$(verified_types)" = "$ALL" ] && break; sleep 0.1; done
expect "all seven event types arrived, verified by standardwebhooks" "$ALL" "$(verified_types)"
expect "no delivery failed verification" 0 "$(grep -c REJECTED "$work/receiver.out" || true)"
delivery_states() {
  curl -sf "$B/admin/v1/tenants/acme/webhooks/$WEBHOOK_ID/deliveries" -H "Authorization: Bearer $ADMIN" \
    | python3 -c 'import json,sys; print(" ".join(sorted({d["status"] for d in json.load(sys.stdin)})))'
}
# Within 60 s: longer than a claim's lease (50 s), after which an attempt whose outcome was lost is
# posted again.
for _ in $(seq 1 600); do [ "$(delivery_states)" = delivered ] && break; sleep 0.1; done
# Any delivery that needed more than one attempt, and why (a receiver may drop a connection).
curl -sf "$B/admin/v1/tenants/acme/webhooks/$WEBHOOK_ID/deliveries" -H "Authorization: Bearer $ADMIN" | python3 -c 'import json,sys
for d in json.load(sys.stdin):
    if d["attempts"] != 1: print("note: delivery", d["id"], d["event_type"], d["status"], d["attempts"], "attempts, last:", d["last_status_code"], d["last_error"])'
if [ "$(delivery_states)" != delivered ]; then
  echo "twilio walk-through: deliveries not all delivered yet:" >&2
  curl -sf "$B/admin/v1/tenants/acme/webhooks/$WEBHOOK_ID/deliveries" -H "Authorization: Bearer $ADMIN" | python3 -c 'import json,sys
for d in json.load(sys.stdin):
    if d["status"] != "delivered": print(" ", d["id"], d["event_type"], d["status"], d["attempts"], d["last_status_code"], d["last_error"], d["next_attempt_at"])' >&2 || true
  grep -i warn "$work/server.err" | tail -5 >&2 || true
fi
expect "the endpoint's deliveries are all delivered" delivered "$(delivery_states)"

# A rotation: for 24 h both secrets sign; the receiver checks each on its own.
NEW_SECRET=$(curl -sf -X POST "$B/admin/v1/tenants/acme/webhooks/$WEBHOOK_ID/rotate-secret" -H "Authorization: Bearer $ADMIN" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
printf '%s\n%s\n' "$OLD_SECRET" "$NEW_SECRET" >"$work/secrets"
CHAT2=$(sed -E 's/^\{"id":([0-9]+).*/\1/' "$work/send.json")
curl -sf -o /dev/null -u "acme:$TOKEN" -X POST "$B/apps/api/v1/chats/$CHAT2/end"
rotated() {
  python3 -c 'import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
r=[r for r in rows if r["event"]["type"]=="chat.ended" and r["event"]["data"]["chat"]["id"]==int(sys.argv[2])]
print(" ".join(str(x["signatures"]) + " " + str(x["verified_by"]) for x in r))' "$work/events.jsonl" "$CHAT2" 2>/dev/null
}
for _ in $(seq 1 100); do [ -n "$(rotated)" ] && break; sleep 0.1; done
expect "after the rotation a delivery carries two signatures, one verifying under each secret" "2 [0, 1]" "$(rotated)"

# --- the platform's chat webhooks, as the receiver written from its sample verified them ---
expect "a test event is queued for the ccai endpoint" 202 \
  "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$B/admin/v1/tenants/acme/webhooks/$CCAI_ID/test" -H "Authorization: Bearer $ADMIN")"
platform_types() {
  python3 -c 'import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
print(" ".join(sorted({r["event"]["event_type"] for r in rows if r["verified_by"]})))' "$work/ccai.jsonl" 2>/dev/null
}
PLATFORM="chat_created chat_ended consumer_opted_in consumer_opted_out message_received message_status_updated participant_joined participant_left webhook_test"
for _ in $(seq 1 100); do [ "$(platform_types)" = "$PLATFORM" ] && break; sleep 0.1; done
expect "every platform event type arrived, verified as the platform's sample verifies" "$PLATFORM" "$(platform_types)"
expect "no platform delivery failed verification" 0 "$(grep -c REJECTED "$work/ccai.out" || true)"
expect "the first chat's messages, both ways, each a message_received with its sender" \
  "agent:Here is your label end_user:STOP end_user:Yes, call me system:lorem ipsum" \
  "$(python3 -c 'import json,sys
rows=[json.loads(l)["event"] for l in open(sys.argv[1])]
m=[r["body"] for r in rows if r["event_type"]=="message_received" and r["chat_id"]==int(sys.argv[2])]
said={"lorem ipsum", "Here is your label", "Yes, call me", "STOP"}
print(" ".join(sorted(b["sender"]["type"]+":"+b["message"]["content"] for b in m if b["message"]["content"] in said)))' "$work/ccai.jsonl" "$CHAT")"
expect "the envelope of the platform" "body chat_id event_type timestamp" \
  "$(python3 -c 'import json,sys; print(" ".join(sorted(json.loads(open(sys.argv[1]).readline())["event"])))' "$work/ccai.jsonl")"
expect "the delivery log names the platform's types" "$PLATFORM" \
  "$(curl -sf "$B/admin/v1/tenants/acme/webhooks/$CCAI_ID/deliveries" -H "Authorization: Bearer $ADMIN" \
    | python3 -c 'import json,sys; print(" ".join(sorted({d["event_type"] for d in json.load(sys.stdin)})))')"
CCAI_NEW=$(curl -sf -X POST "$B/admin/v1/tenants/acme/webhooks/$CCAI_ID/rotate-secret" -H "Authorization: Bearer $ADMIN" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
printf '%s\n%s\n' "$CCAI_NEW" "$CCAI_OLD" >"$work/ccai-secrets"
expect "a test event after the rotation is queued" 202 \
  "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$B/admin/v1/tenants/acme/webhooks/$CCAI_ID/test" -H "Authorization: Bearer $ADMIN")"
rotated_ccai() {
  python3 -c 'import json,sys
rows=[json.loads(l) for l in open(sys.argv[1])]
r=[r for r in rows if r["event"]["event_type"]=="webhook_test"]
print(" ".join(r[-1]["verified_by"]) if len(r) > 1 else "")' "$work/ccai.jsonl" 2>/dev/null
}
for _ in $(seq 1 100); do [ -n "$(rotated_ccai)" ] && break; sleep 0.1; done
expect "after the rotation the new secret signs as primary, the old as secondary" "primary secondary" "$(rotated_ccai)"
echo "twilio walk-through: $checks passed, 0 failed"
