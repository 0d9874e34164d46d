#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 600), one after the other, on the corpus in
# fuzz/corpus/<target>/. Installs cargo-fuzz when it is missing; needs a nightly toolchain.
# Stops at the first target that fails; its crashing input is in fuzz/artifacts/<target>/.
#
#   bash fuzz/run.sh [SECONDS] [--quick]
#
# --quick builds the targets without optimisation and without AddressSanitizer (the crate
# forbids unsafe code): a build of minutes instead of a quarter of an hour, for the short smoke
# run of CI; coverage guidance and every assertion stay.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-600}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [SECONDS] [--quick]  (seconds per target, default 600)" >&2
    exit 2
fi
build_flags=()
case "${2:-}" in
    "") ;;
    --quick) build_flags=(--dev -s none) ;;
    *) echo "usage: $0 [SECONDS] [--quick]" >&2; exit 2 ;;
esac

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "installing the nightly toolchain (cargo-fuzz needs it)"
    rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

# The query structs mirrored from src/api still match, and the seeds are valid.
cargo test --quiet

targets=(strict_json envelope schema checkpoint proof_bundle read_token query_string tlog_path witness_request)
cargo +nightly fuzz build "${build_flags[@]}"
for t in "${targets[@]}"; do
    echo "== fuzz $t for ${seconds}s"
    mkdir -p "corpus/$t"
    # The corpus read is the seeds of git; what a run adds goes to a scratch directory, so
    # that short runs leave the tree as it was.
    scratch="target/corpus-run/$t"
    rm -rf "$scratch" && mkdir -p "$scratch"
    log="target/fuzz-$t.log"
    if cargo +nightly fuzz run "${build_flags[@]}" "$t" "$scratch" "corpus/$t" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
        grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' "$log" || true
    else
        tail -n 80 "$log" >&2
        echo "fuzz target $t FAILED; its input is in fuzz/artifacts/$t/, the whole log in fuzz/$log" >&2
        exit 1
    fi
done
echo "== every fuzz target ran ${seconds}s without a failure"
