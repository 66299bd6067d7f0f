#!/usr/bin/env bash
# Idempotent machine set-up shared by `make demo` and `make test`.
#
# Why one script: both README commands must work on a fresh machine (no PostGIS, no GDAL,
# no virtualenv) and be cheap on a used one, so every step checks before it acts.
# Settings come from the environment (see README "Configuration"); defaults match a local
# PostgreSQL 15 with trust auth on 127.0.0.1:5432.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export PGHOST="${PGHOST:-127.0.0.1}"
export PGPORT="${PGPORT:-5432}"
export PGUSER="${PGUSER:-postgres}"
GIS311_DB="${GIS311_DB:-gis311}"
PG_MAJOR="${PG_MAJOR:-15}"
VENV="${VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3.11}"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "need root (or sudo) to run: $*" >&2; exit 1; fi
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

apt_packages() {
    # chromium: Debian's browser for the Playwright page tests (Playwright never downloads its own).
    # gettext: msgfmt, which compiles the translations (manage.py compilemessages).
    local want=("postgresql-${PG_MAJOR}-postgis-3" gdal-bin libgdal-dev chromium gettext "$@")
    command -v pg_lsclusters >/dev/null || want+=("postgresql-${PG_MAJOR}")
    command -v redis-server >/dev/null || command -v redis-cli >/dev/null || want+=(redis-server)
    local missing=()
    for p in "${want[@]}"; do installed "$p" || missing+=("$p"); done
    if [ "${#missing[@]}" -gt 0 ]; then
        say "installing Debian packages: ${missing[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

start_postgres() {
    if pg_isready -q -h "$PGHOST" -p "$PGPORT"; then return; fi
    say "starting PostgreSQL ${PG_MAJOR}"
    if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -q "^${PG_MAJOR} main$"; then
        as_root pg_createcluster "$PG_MAJOR" main
        # A cluster we create ourselves gets the same trust auth on loopback as the CI machine.
        local hba="/etc/postgresql/${PG_MAJOR}/main/pg_hba.conf"
        as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/; s/^(local\s+all\s+all\s+)\S+/\1trust/' "$hba"
    fi
    as_root pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" main start || as_root pg_ctlcluster "$PG_MAJOR" main start
    for _ in $(seq 1 30); do pg_isready -q -h "$PGHOST" -p "$PGPORT" && return; sleep 1; done
    echo "PostgreSQL did not come up on $PGHOST:$PGPORT" >&2; exit 1
}

allow_loopback_replication() {
    # tests/test_replica_router.py copies this cluster into a streaming standby (scripts/deploy/replica.sh)
    # over a replication connection from 127.0.0.1, which "host all ..." lines do not admit. Admitted the way
    # the cluster admits other loopback connections (trust on a CI machine; a password elsewhere, which the
    # test's own replication role has).
    local hba method
    hba=$(psql -d postgres -tAc "SHOW hba_file")
    if as_root grep -qE '^host\s+replication\s+all\s+127\.0\.0\.1/32\s' "$hba"; then return; fi
    method=$(as_root awk '$1 == "host" && $2 == "all" && $3 == "all" && $4 == "127.0.0.1/32" {print $5; exit}' "$hba")
    say "admitting loopback replication connections (${method:-scram-sha-256})"
    echo "host replication all 127.0.0.1/32 ${method:-scram-sha-256}" | as_root tee -a "$hba" >/dev/null
    psql -d postgres -tAc "SELECT pg_reload_conf()" >/dev/null
}

start_redis() {
    if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return; fi
    say "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
        --dir /tmp --logfile /tmp/gis311-redis.log
}

create_database() {
    if ! psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='${GIS311_DB}'" | grep -q 1; then
        say "creating database ${GIS311_DB}"
        createdb "$GIS311_DB"
    fi
    # The test database is created by pytest-django; GeoDjango enables postgis there itself.
    PGOPTIONS="--client-min-messages=warning" psql -q -d "$GIS311_DB" -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
}

make_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating virtualenv $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    local stamp="$VENV/.gis311-installed"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
        say "installing the project into $VENV"
        local log="$VENV/pip-install.log"
        if ! { "$VENV/bin/python" -m pip install --upgrade pip &&
               "$VENV/bin/python" -m pip install -c constraints.txt -e ".[dev]"; } >"$log" 2>&1; then
            tail -40 "$log" >&2; echo "pip install failed; full log: $log" >&2; exit 1
        fi
        touch "$stamp"
    fi
}

main() {
    apt_packages "$@"
    start_postgres
    allow_loopback_replication
    start_redis
    create_database
    make_venv
}

main "$@"
