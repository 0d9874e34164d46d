#!/usr/bin/env bash
# The writer's pause for a snapshot, and the process's peak memory, on an existing SQLite ledger.
#
#   bash benches/snapshot_pause.sh DB.db [RUNS] [BIN]
#
# DB.db is a ledger kept by `cargo bench --bench lifecycle -- --keep-db DB.db` (its ledger key
# beside it as DB.db.ledger.pem). Works on a copy in a temporary folder. Each run starts BIN
# (default: the release build) with a new snapshot path, so the start replays every entry, then
# stops it: the stop encodes the state and writes a snapshot. It prints the pause the writer
# reported (`encoded a snapshot`, debug level), the resident memory after the start and the
# process's peak (which includes the pause), and the snapshot's size.
set -euo pipefail
db=$(realpath "$1")
runs=${2:-3}
bin=${3:-$(dirname "$0")/../target/release/hwledger}
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
bin=$(realpath "$bin")
port=18473
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "ledger: $db ($(du -m "$db" | cut -f1) MB)"
for i in $(seq "$runs"); do
    work=$(mktemp -d)
    cp "$db" "$work/l.db"
    [ -f "$db-wal" ] && cp "$db-wal" "$work/l.db-wal"
    cp "$db.ledger.pem" "$work/l.pem"
    RUST_LOG=hwledger=debug /usr/bin/time -f "%M" -o "$work/peak" "$bin" serve \
        --db "sqlite://$work/l.db" --origin bench.hwledger.local --ledger-key "$work/l.pem" \
        --listen "127.0.0.1:$port" --sweep-interval 1h --snapshot "$work/l.snapshot" \
        >"$work/log" 2>&1 &
    timer=$!
    until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.05; done
    pid=$(pgrep -n -f "listen 127.0.0.1:$port")
    rss=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$pid/status")
    kill -TERM "$pid"
    wait "$timer" || true
    pause=$(grep -o 'pause_ms=[0-9]*' "$work/log" | tail -1 | cut -d= -f2)
    echo "run $i: pause ${pause} ms; resident after start ${rss} MB; peak $(( $(cat "$work/peak") / 1024 )) MB; snapshot $(( $(stat -c %s "$work/l.snapshot") / 1048576 )) MB"
    rm -rf "$work"
done
