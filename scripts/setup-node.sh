#!/usr/bin/env bash
# Install what the AsyncAPI check (tests/gateway/test_asyncapi.py) needs: Node.js with npm (from
# Debian when missing) and the AsyncAPI project's parser, pinned by scripts/asyncapi/package.json
# and its lock, into scripts/asyncapi/node_modules (not in git). Idempotent; safe to re-run.
# Needs root (or sudo) for apt-get when node or npm is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi
dir=scripts/asyncapi
stamp=$dir/node_modules/.installed-lock
if [ ! -f "$stamp" ] || ! cmp -s "$dir/package-lock.json" "$stamp"; then
    # --ignore-scripts: nothing of the registry runs at install time.
    if ! npm ci --prefix "$dir" --no-audit --no-fund --ignore-scripts > "$dir/npm.log" 2>&1; then
        cat "$dir/npm.log" >&2
        echo "setup-node: installing @asyncapi/parser failed (log above)" >&2
        exit 1
    fi
    cp "$dir/package-lock.json" "$stamp"
fi
