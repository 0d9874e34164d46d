#!/usr/bin/env bash
# The console's third-party files (web/assets/vendor/) must be byte for byte the files of the
# npm packages pinned in web/package.json and web/package-lock.json, so anyone can check what the
# binary serves against the published packages. Run after `npm ci --prefix web`.
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -d node_modules ]; then
    echo "vendor-check: web/node_modules is missing; run: npm ci --prefix web" >&2
    exit 1
fi

status=0
check() {
    local vendored="assets/vendor/$1" package="$2" file="$3"
    local published="node_modules/$package/$file"
    local pinned
    pinned=$(node -p "require('./package-lock.json').packages['node_modules/$package'].version")
    if [ ! -f "$published" ]; then
        echo "vendor-check: $published is missing (is $package@$pinned installed? run: npm ci --prefix web)" >&2
        status=1
    elif ! cmp -s "$vendored" "$published"; then
        echo "vendor-check: web/$vendored differs from $file of $package@$pinned; copy it over:" >&2
        echo "    cp web/$published web/$vendored" >&2
        status=1
    else
        echo "web/$vendored = $package@$pinned $file"
    fi
}

check echarts.common.min.js echarts dist/echarts.common.min.js
check jsQR.js jsqr dist/jsQR.js
check qrcode.mjs qrcode-generator dist/qrcode.mjs

exit $status
