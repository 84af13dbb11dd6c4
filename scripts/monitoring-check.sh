#!/usr/bin/env bash
# The monitoring files, checked with the real tools (Debian's `prometheus` package):
#   1. promtool checks deploy/prometheus/rules.yml and runs its unit tests (tests.yml), and checks
#      the compose profile's prometheus.yml;
#   2. a real Prometheus scrapes a running sms-server on loopback with those rules loaded; after
#      one send and one refused send, a query through its HTTP API must answer the send
#      endpoint's request counter by status, the recording rules must evaluate, and every
#      expression of the Grafana dashboard (deploy/grafana) must be a valid query.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

command -v promtool >/dev/null 2>&1 || { log "installing prometheus (promtool)"; apt_install prometheus; }
PROMETHEUS=$(command -v prometheus || echo /usr/bin/prometheus)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

log "promtool check rules, promtool test rules"
promtool check rules deploy/prometheus/rules.yml
(cd deploy/prometheus && promtool test rules tests.yml)
echo "rule unit tests passed: $(grep -c '^  - name:' deploy/prometheus/tests.yml) groups," \
  "$(grep -c 'alertname:' deploy/prometheus/tests.yml) alert expectations," \
  "$(grep -c '^      - expr:' deploy/prometheus/tests.yml) expression expectations;" \
  "every alert of rules.yml is tested: $(grep -o 'alert: [A-Za-z]*' deploy/prometheus/rules.yml | wc -l) alerts"
for alert in $(grep -o 'alert: [A-Za-z]*' deploy/prometheus/rules.yml | cut -d' ' -f2); do
  grep -q "alertname: $alert$" deploy/prometheus/tests.yml \
    || { echo "monitoring: $alert has no unit test of its own" >&2; exit 1; }
done
sed "s|/etc/prometheus/rules.yml|$PWD/deploy/prometheus/rules.yml|" deploy/prometheus/prometheus.yml >"$work/compose-prometheus.yml"
promtool check config "$work/compose-prometheus.yml"

log "a real Prometheus scraping a running sms-server"
cargo build -q --locked -p sms-server
SMS_PORT=$(free_port); PROM_PORT=$(free_port)
B="http://127.0.0.1:$SMS_PORT"; P="http://127.0.0.1:$PROM_PORT"
SMS_DATA_DIR="$work/data" SMS_BIND="127.0.0.1:$SMS_PORT" SMS_LOG=warn target/debug/sms-server >"$work/server.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -sf "$B/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
cat >"$work/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $PWD/deploy/prometheus/rules.yml
scrape_configs:
  - job_name: sms-server
    static_configs:
      - targets: ["127.0.0.1:$SMS_PORT"]
YML
promtool check config "$work/prometheus.yml" >/dev/null
"$PROMETHEUS" --version 2>&1 | head -n 1
"$PROMETHEUS" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$work/prometheus.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -sf "$P/-/ready" >/dev/null 2>&1 && break; sleep 0.2; done
curl -sf "$P/-/ready" >/dev/null || { tail -n 20 "$work/prometheus.log" >&2; exit 1; }

ADMIN=$(SMS_DATA_DIR="$work/data" target/debug/sms-server admin-token --ttl 600)
admin() { curl -sf -X POST "$B$1" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' ${2:+-d "$2"}; }
admin /admin/v1/tenants '{"subdomain": "watch", "name": "Watch Inc."}' >/dev/null
TOKEN=$(admin /admin/v1/tenants/watch/api-tokens | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
admin /admin/v1/tenants/watch/outbound-numbers '{"number": "+1 628-555-0199"}' >/dev/null
send() {
  curl -s -o /dev/null -w '%{http_code}' -u "watch:$TOKEN" -X POST "$B/apps/api/v1/sms" -H 'Content-Type: application/json' \
    -d '{"chat_type": "SMS", "end_user_number": "+1 415-555-0100", "outbound_number": "+1 628-555-0199", "message": "hi"}'
}
[ "$(send)" = 200 ] || { echo "monitoring: the send was not answered 200" >&2; exit 1; }
[ "$(send)" = 400 ] || { echo "monitoring: the second send was not answered 400" >&2; exit 1; }

query() { curl -sf -G "$P/api/v1/query" --data-urlencode "query=$1"; }
# The value of QUERY's only sample, or nothing.
value() { query "$1" | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if len(r)==1 else "")'; }
expect() { # expect WHAT QUERY EXPECTED, waiting up to 60 s for the scrape and the rules
  local got=""
  for _ in $(seq 1 120); do got=$(value "$2"); [ "$got" = "$3" ] && break; sleep 0.5; done
  [ "$got" = "$3" ] || { echo "monitoring: FAILED: $1: $2 answered [$got], expected [$3]" >&2; exit 1; }
  echo "ok: $1: $2 = $got"
}
expect "the send endpoint's 200s" 'sms_http_requests_total{job="sms-server", method="POST", route="/apps/api/v1/sms", status="200"}' 1
expect "the send endpoint's 400s" 'sms_http_requests_total{job="sms-server", method="POST", route="/apps/api/v1/sms", status="400"}' 1
expect "the instance is up" 'up{job="sms-server"}' 1
expect "the pool's gauges" 'count(sms_db_pool_connections_max{job="sms-server"})' 1
expect "the recording rule of requests has the send route" \
  'count(sms:http_requests:rate5m{route="/apps/api/v1/sms"})' 2
expect "no alert fires" 'count(ALERTS{alertstate="firing"}) or vector(0)' 0

curl -sf "$P/api/v1/rules" | python3 -c '
import json, sys
groups = json.load(sys.stdin)["data"]["groups"]
rules = [r for g in groups for r in g["rules"]]
bad = [r["name"] for r in rules if r.get("health") != "ok"]
assert not bad, f"rules not healthy: {bad}"
print(f"ok: {len(groups)} rule groups loaded, {len(rules)} rules, every one healthy")
'
python3 - "$P" deploy/grafana/dashboards/outbound-sms.json deploy/grafana/provisioning/datasources/prometheus.yml <<'PY'
import json, sys, urllib.parse, urllib.request
base, path, datasources = sys.argv[1:4]
dashboard = json.load(open(path))
uid = next(l.split(":", 1)[1].strip() for l in open(datasources) if l.strip().startswith("uid:"))
exprs = []
ids = [panel["id"] for panel in dashboard["panels"]]
assert len(ids) == len(set(ids)), f"panel ids repeat: {ids}"
cells = set()
for panel in dashboard["panels"]:
    g = panel["gridPos"]
    assert g["x"] >= 0 and g["w"] > 0 and g["x"] + g["w"] <= 24, f"panel {panel['title']!r} is off the grid"
    for x in range(g["x"], g["x"] + g["w"]):
        for y in range(g["y"], g["y"] + g["h"]):
            assert (x, y) not in cells, f"panel {panel['title']!r} overlaps another"
            cells.add((x, y))
    if panel["type"] == "row":
        continue
    assert panel["datasource"]["uid"] == uid, f"panel {panel['title']!r} names another data source"
    assert panel["targets"], f"panel {panel['title']!r} has no query"
    for target in panel["targets"]:
        exprs.append(target["expr"])
for expr in exprs:
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    answer = json.load(urllib.request.urlopen(url))
    assert answer["status"] == "success", f"{expr}: {answer}"
print(f"ok: the dashboard's {len(ids)} panels are on the grid without overlap; its {len(exprs)} queries are valid, on the provisioned data source")
PY
echo "monitoring: ok"
