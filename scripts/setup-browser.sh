#!/usr/bin/env bash
# Install what the browser tests (tests/browser/) need: Debian's Chromium and Playwright's Python
# package, which drives it (never `playwright install`: the tests use /usr/bin/chromium).
# Idempotent; safe to re-run. Needs root (or sudo) for apt-get when Chromium is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
if ! .venv/bin/python -c "import playwright" >/dev/null 2>&1; then
    .venv/bin/python -m pip install --quiet playwright
fi
# axe-core (the accessibility checker the browser tests inject into every screen), pinned, from
# the npm registry into a git-ignored folder; installed again only when the version differs.
AXE_VERSION="4.10.3"
AXE_DIR="node_modules_browser"
if [ "$(node -p "require('./$AXE_DIR/node_modules/axe-core/package.json').version" 2>/dev/null || true)" != "$AXE_VERSION" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        SUDO=""
        if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
            SUDO="sudo"
        fi
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm >/dev/null
    fi
    mkdir -p "$AXE_DIR"
    npm install --prefix "$AXE_DIR" --no-save --no-audit --no-fund --no-package-lock --silent "axe-core@$AXE_VERSION"
fi
