#!/usr/bin/env bash
# Make sure a PostgreSQL server answers at 127.0.0.1:5432 with trust authentication, for the tests
# of the PostgreSQL store and cluster mode (tests/pg.py). Idempotent; safe to re-run.
# When one already answers (the dev and CI machines have one), nothing is touched. Otherwise it
# installs Debian's `postgresql` package, creates and starts a cluster on port 5432 and lets
# connections from 127.0.0.1 in without a password. Needs root (or sudo) for that.
set -euo pipefail
HOST=127.0.0.1
PORT=5432

answers() {
    # bash's own /dev/tcp: no client needed to know whether something listens.
    (exec 3<>"/dev/tcp/$HOST/$PORT") >/dev/null 2>&1
}

if answers; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
fi
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    echo "setup-postgres: installing Debian's postgresql" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi
VERSION=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! $SUDO pg_lsclusters -h | awk -v v="$VERSION" '$1 == v && $2 == "main" {found=1} END {exit !found}'; then
    $SUDO pg_createcluster "$VERSION" main --port "$PORT" >/dev/null
fi
HBA=/etc/postgresql/$VERSION/main/pg_hba.conf
# Trust on loopback only: first lines win in pg_hba.conf.
if ! $SUDO grep -q "^host all all 127.0.0.1/32 trust" "$HBA"; then
    $SUDO sed -i "1i host all all 127.0.0.1/32 trust" "$HBA"
fi
$SUDO sed -i "s/^#\?port = .*/port = $PORT/; s/^#\?listen_addresses = .*/listen_addresses = 'localhost'/" \
    "/etc/postgresql/$VERSION/main/postgresql.conf"
$SUDO pg_ctlcluster "$VERSION" main restart || $SUDO pg_ctlcluster "$VERSION" main start
for _ in $(seq 1 60); do
    if answers; then
        exit 0
    fi
    sleep 0.5
done
echo "setup-postgres: PostgreSQL does not answer at $HOST:$PORT" >&2
exit 1
