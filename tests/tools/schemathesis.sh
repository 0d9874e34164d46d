#!/usr/bin/env bash
# API fuzzing from the OpenAPI document: Schemathesis against a live service holding the demo
# district, with a regulator's read token. Fails on any 5xx, any status, content type or body
# that the document does not declare; afterwards the ledger must still verify.
#
#   bash tests/tools/schemathesis.sh [SECONDS]     (default 90 s of generated requests)
#
# Needs the debug binary (cargo build) and python3; installs Schemathesis into target/.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-90}
bin=$PWD/target/debug/hwledger
venv=$PWD/target/schemathesis-venv
if [ ! -x "$venv/bin/schemathesis" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q 'schemathesis==4.32.5'
fi
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cd "$work"
"$bin" serve --listen "127.0.0.1:$port" --demo --demo-scale small >serve.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 300); do
    grep -q "the demo district's ledger" serve.log && break
    sleep 0.5
done
grep -q "the demo district's ledger" serve.log || { cat serve.log; echo "the demo was not built" >&2; exit 1; }
ledger=$(curl -s "http://127.0.0.1:$port/v1/ledger")
origin=$(echo "$ledger" | python3 -c 'import json,sys; print(json.load(sys.stdin)["origin"])')
ledger_key=$(echo "$ledger" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ledger_key"])')
token=$("$bin" token --key hwledger-keys/regulator.pem --org 11320404MB0000001Y --origin "$origin" --lifetime 600)
"$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" \
    -H "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing --max-time "$seconds" --seed 1 --no-color
kill -TERM $pid
wait $pid || true
"$bin" verify --db "sqlite://$work/hwledger.db" --ledger-key "$ledger_key"
echo "Schemathesis found nothing; the ledger verifies"
