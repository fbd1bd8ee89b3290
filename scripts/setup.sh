#!/usr/bin/env bash
# Create .venv and install auctionactors with its test tools. Idempotent; safe to re-run.
# pip's chatter goes to .venv/pip.log, shown only if the install fails.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
extras="test${AUCTIONACTORS_EXTRAS:+,$AUCTIONACTORS_EXTRAS}"
.venv/bin/python -m pip install --upgrade pip > .venv/pip.log 2>&1 || true  # best effort
if ! .venv/bin/python -m pip install -e ".[$extras]" >> .venv/pip.log 2>&1; then
    cat .venv/pip.log >&2
    echo "setup: installing auctionactors into .venv failed (log above)" >&2
    exit 1
fi
