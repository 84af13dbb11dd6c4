#!/usr/bin/env bash
# The test command of the README: every test, on both backends.
#
# Unit tests need nothing. The HTTP integration suite (crates/sms-server/tests/api) runs each
# test twice, once on a fresh SQLite file and once on a fresh PostgreSQL database, so this
# script makes sure a PostgreSQL server answers first (starting or installing one if needed).
# Extra arguments go to `cargo test`, e.g. `scripts/test.sh rows` or `scripts/test.sh on_sqlite`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_build_deps
ensure_postgres
log "PostgreSQL for the suite: $SMS_TEST_POSTGRES_URL"
cargo test --workspace --locked "$@"
