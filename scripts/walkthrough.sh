#!/usr/bin/env bash
# The README walk-through, checked: scripts/walkthrough.sh BASE_URL ADMIN_TOKEN [SUBDOMAIN [ADMIN_URL]]
# (ADMIN_URL: where the admin API is, BASE_URL by default; behind deploy/nginx.conf, its operators'
# listener, as the public one answers 404 for /admin/).
# admin token → tenant → API token → outbound number → agent → send an SMS → the same consumer is
# refused → read the chat → list → end it → text the consumer again. Exits non-zero on the first
# answer that is not the README's.
set -euo pipefail
B=$1 ADMIN=$2 SUB=${3:-acme} AB=${4:-$1}
checks=0
expect() { # expect WHAT EXPECTED ACTUAL
  if [ "$2" != "$3" ]; then echo "walk-through: FAILED: $1: expected [$2], got [$3]" >&2; exit 1; fi
  checks=$((checks + 1)); echo "ok: $1"
}
field() { python3 -c 'import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1].split("."): v=v[int(k)] if k.isdigit() else v[k]
print(v)' "$1"; }
call() { # call BASE METHOD PATH [BODY] [AUTH...]: prints "STATUS BODY"
  local base=$1 method=$2 path=$3 body=${4:-}; shift 4 || shift $#
  local out; out=$(mktemp)
  local code; code=$(curl -s -o "$out" -w '%{http_code}' -X "$method" "$base$path" "$@" ${body:+-H 'Content-Type: application/json' -d "$body"})
  echo "$code $(cat "$out")"; rm -f "$out"
}
admin() { call "$AB" "$1" "$2" "${3:-}" -H "Authorization: Bearer $ADMIN"; }

r=$(admin POST /admin/v1/tenants "{\"subdomain\": \"$SUB\", \"name\": \"Acme Inc.\"}")
expect "admin creates the tenant" 201 "${r%% *}"
r=$(admin POST /admin/v1/tenants/$SUB/api-tokens)
expect "admin issues an API token" 201 "${r%% *}"
TOKEN=$(echo "${r#* }" | field token)
r=$(admin POST /admin/v1/tenants/$SUB/outbound-numbers '{"number": "+1 628-555-0199"}')
expect "the outbound number is stored in E.164" "201 +16285550199" "${r%% *} $(echo "${r#* }" | field number)"
r=$(admin POST /admin/v1/tenants/$SUB/agents '{"email": "john.doe@foo.com", "first_name": "John", "last_name": "Doe", "agent_number": 9}')
expect "admin adds the agent" 201 "${r%% *}"
AGENT=$(echo "${r#* }" | field id)

tenant() { call "$B" "$1" "$2" "${3:-}" -u "$SUB:$TOKEN"; }
r=$(tenant POST /apps/api/v1/sms "{\"chat_type\": \"Messaging (SMS)\", \"end_user_number\": \"+1 415-555-0100\", \"outbound_number\": \"+1 628-555-0199\", \"message\": \"lorem ipsum\", \"ticket_id\": \"5006x00000XXxxxXXX\", \"agentId\": $AGENT}")
expect "the SMS opens an assigned chat" "200 assigned 5006x00000XXxxxXXX +16285550199" \
  "${r%% *} $(echo "${r#* }" | field status) $(echo "${r#* }" | field out_ticket_id) $(echo "${r#* }" | field outbound_number)"
CHAT=$(echo "${r#* }" | field id)
r=$(tenant POST /apps/api/v1/sms '{"chat_type": "Messaging (SMS)", "end_user_number": "(415) 555-0100", "outbound_number": "+1 628-555-0199", "message": "hello again"}')
expect "the same consumer is refused while the chat is active" \
  "400 {\"message\":\"Outbound SMS failed. Consumer is already in an active SMS session.\",\"chat_id\":$CHAT}" "$r"
r=$(tenant GET /apps/api/v1/chats/$CHAT)
expect "the chat reads back" "200 $CHAT assigned" "${r%% *} $(echo "${r#* }" | field id) $(echo "${r#* }" | field status)"
r=$(tenant GET "/apps/api/v1/chats?status=assigned&per=10")
expect "the list has it" "200 $CHAT" "${r%% *} $(echo "${r#* }" | field 0.id)"
r=$(tenant POST /apps/api/v1/chats/$CHAT/end '{"disconnected_by": "agent"}')
expect "ending it finishes the chat" "200 finished disconnected_by_agent" \
  "${r%% *} $(echo "${r#* }" | field status) $(echo "${r#* }" | field disconnected_by)"
r=$(tenant POST /apps/api/v1/sms '{"chat_type": "Messaging (SMS)", "end_user_number": "(415) 555-0100", "outbound_number": "+1 628-555-0199", "message": "hello again"}')
expect "the consumer can be texted again" 200 "${r%% *}"
echo "walk-through: $checks passed, 0 failed"
