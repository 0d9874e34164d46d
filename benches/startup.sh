#!/usr/bin/env bash
# Start-up time of `hwledger serve` on an existing SQLite ledger, with and without a snapshot.
#
#   bash benches/startup.sh DB.db [RUNS]
#
# DB.db is a ledger kept by `cargo bench --bench lifecycle -- --keep-db DB.db` (its ledger key
# beside it as DB.db.ledger.pem). Works on a copy in a temporary folder. For each mode it starts
# the release binary RUNS times (default 3) and reports the seconds from the process start until
# /healthz answers, and the resident memory then: `--snapshot off` (every entry replayed), and
# from a snapshot (written by a first start and its graceful stop, not timed).
set -euo pipefail
db=$(realpath "$1")
runs=${2:-3}
bin=$(dirname "$0")/../target/release/hwledger
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
bin=$(realpath "$bin")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$db" "$work/l.db"
cp "$db.ledger.pem" "$work/l.pem"
port=18471
serve() { # serve FLAGS…: start, wait for /healthz, print "seconds rss_mb", stop with SIGTERM
    local t0 t1 pid rss
    t0=$(date +%s.%N)
    "$bin" serve --db "sqlite://$work/l.db" --origin bench.hwledger.local --ledger-key "$work/l.pem" \
        --listen "127.0.0.1:$port" --sweep-interval 1h "$@" >>"$work/log" 2>&1 &
    pid=$!
    until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do sleep 0.02; done
    t1=$(date +%s.%N)
    rss=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$pid/status")
    kill -TERM "$pid"
    wait "$pid"
    echo "$(echo "$t1 - $t0" | bc) ${rss}"
}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "ledger: $db ($(du -m "$db" | cut -f1) MB)"
for i in $(seq "$runs"); do
    echo "full replay (--snapshot off), run $i: $(serve --snapshot off) (s, MB resident)"
done
serve --snapshot "$work/l.snapshot" >/dev/null
echo "snapshot: $(du -k "$work/l.snapshot" | cut -f1) KB"
for i in $(seq "$runs"); do
    echo "from the snapshot, run $i: $(serve --snapshot "$work/l.snapshot") (s, MB resident)"
done
grep -o 'loaded the snapshot.*' "$work/log" | tail -n 1
grep -o 'serving.*size=[0-9]*' "$work/log" | tail -n 1
