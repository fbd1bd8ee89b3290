#!/usr/bin/env bash
# Set up .venv and run the system on its embedded default: SQLite in ./auctionactors.db.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/auctionactors "${@:-serve}"
