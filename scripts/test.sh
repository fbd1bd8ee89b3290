#!/usr/bin/env bash
# Set up .venv and run everything CI checks: ruff, ruff format --check, mypy --strict, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "== ruff check"
.venv/bin/ruff check auctionactors tests scripts
echo "== ruff format --check"
.venv/bin/ruff format --check auctionactors tests scripts
echo "== mypy --strict auctionactors"
.venv/bin/mypy --strict auctionactors
echo "== browser (Chromium, Playwright)"
scripts/setup-browser.sh
echo "== PostgreSQL (127.0.0.1:5432)"
scripts/setup-postgres.sh
echo "== pytest"
.venv/bin/pytest "$@"
