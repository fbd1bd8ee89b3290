#!/usr/bin/env bash
# Create .venv and install auctionactors with its test tools. Idempotent; safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install --quiet -e ".[test${AUCTIONACTORS_EXTRAS:+,$AUCTIONACTORS_EXTRAS}]"
