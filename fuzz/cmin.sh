#!/usr/bin/env bash
# Shrinks the corpus of the given fuzz targets (default: all) to the inputs that add coverage
# (edges, not hit counts, so that the corpus stays small), keeping every seed-* and crash-* file.
#
#   bash fuzz/cmin.sh [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(strict_json envelope schema checkpoint proof_bundle read_token query_string)
for t in "${targets[@]}"; do
    [ -d "corpus/$t" ] || { echo "no corpus/$t" >&2; exit 2; }
    kept="target/cmin/$t"
    rm -rf "$kept" && mkdir -p "$kept"
    find "corpus/$t" -maxdepth 1 -type f \( -name 'seed-*' -o -name 'crash-*' \) -exec cp {} "$kept/" \;
    cargo +nightly fuzz run "$t" "$kept" "corpus/$t" -- -merge=1 -use_counters=0 \
        >"target/cmin-$t.log" 2>&1 || { tail -n 40 "target/cmin-$t.log" >&2; exit 1; }
    echo "$t: $(find "corpus/$t" -type f | wc -l) files -> $(find "$kept" -type f | wc -l)"
    rm -rf "corpus/$t" && mv "$kept" "corpus/$t"
done
du -sh corpus
