#!/usr/bin/env bash
# The test command of the README: every test, on both backends.
#
# Unit tests need nothing. The HTTP integration suite (crates/sms-server/tests/api) runs each
# test twice: on a fresh SQLite file with the in-process lock (the embedded default), and on a
# fresh PostgreSQL database with the Redis lock (a deployment). The lock conformance suite and
# the multi-instance test need Redis too. So this script makes sure PostgreSQL and Redis answer
# first, starting or installing them if needed.
# The test-only fault hook (the `fault-hooks` feature) is on, for the crash-window test of
# crates/sms-server/tests/cluster/main.rs; release builds never have it.
# Extra arguments go to `cargo test`, e.g. `scripts/test.sh rows` or `scripts/test.sh on_sqlite`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_build_deps
ensure_postgres
ensure_redis
log "PostgreSQL for the suite: $SMS_TEST_POSTGRES_URL; Redis: $SMS_TEST_REDIS_URL"
log_file=$(mktemp)
trap 'rm -f "$log_file"' EXIT
status=0
cargo test --workspace --locked --features sms-server/fault-hooks "$@" 2>&1 | tee "$log_file" || status=$?
# One closing line over all test binaries.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log_file"
exit "$status"
