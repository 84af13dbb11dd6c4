#!/usr/bin/env bash
# The service's phone-number classification against libphonenumber's reference (the Python
# port, `phonenumbers`), over some 10,000 generated numbers in every common format: US,
# Canadian and Caribbean numbers, toll-free, unassigned and invalid area codes, other countries,
# extensions, white space, Unicode digits and punctuation. Fails on any disagreement with the
# service's rules applied to the reference's verdict (scripts/numbers-differential.py says how).
#
# `phonenumbers` is pinned to the libphonenumber release whose metadata the Rust `phonenumber`
# crate bundles (Cargo.lock: 0.3.10+9.0.33), so the run compares the rules and the parsing, not
# the age of two metadata files. `NUMBERS_REFERENCE=latest` compares against the newest release
# too (it knows area codes assigned since, which the crate does not).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

venv=target/numbers-venv
pin="phonenumbers==9.0.33"
[ "${NUMBERS_REFERENCE:-pinned}" = latest ] && pin="phonenumbers"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import phonenumbers' 2>/dev/null \
   || { [ "$pin" != phonenumbers ] && [ "$("$venv/bin/python" -c 'import phonenumbers; print(phonenumbers.__version__)')" != 9.0.33 ]; }; then
  log "installing $pin into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check --upgrade "$pin"
fi
cargo build -q --locked -p sms-domain --example classify
"$venv/bin/python" scripts/numbers-differential.py --classifier target/debug/examples/classify
