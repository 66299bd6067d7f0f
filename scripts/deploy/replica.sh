#!/bin/sh
# A streaming hot standby of the primary: the read replica the council, report and planner pages read from
# (DATABASE_REPLICA_URL; gis_app/db_router.py). Run as the PostgreSQL user, e.g. as the compose file's
# `replica` service. The first start copies the primary (pg_basebackup -R: standby.signal and primary_conninfo
# written into the copy) and starts it; later starts find the copy and start it as it is, and it catches up.
#
#   PRIMARY_HOST, PRIMARY_PORT (5432)   the primary
#   REPLICATION_USER (replicator)       a role WITH REPLICATION the primary admits for replication
#                                       (scripts/deploy/primary-init.sh makes it); its password in PGPASSWORD
#   PGDATA                              the standby's data directory (created; must be empty or absent)
#   PGPORT (5432)                       the port the standby serves on
#   REPLICATION_SLOT                    optional: a physical slot on the primary, created on the first start,
#                                       so the primary keeps the WAL a stopped standby still needs
#   STANDBY_HBA_FILE                    optional: who may connect, for a primary that keeps pg_hba.conf
#                                       outside its data directory (Debian); the postgres image keeps it inside
#   PG_BIN                              optional: the directory of `postgres` when it is not on PATH
#   LISTEN_ADDRESSES (*)                the addresses the standby listens on
# Anything after the options is passed to postgres (e.g. -c unix_socket_directories=/tmp).
set -eu
: "${PRIMARY_HOST:?the primary's host}" "${PGDATA:?the standby's data directory}"
PRIMARY_PORT=${PRIMARY_PORT:-5432}
REPLICATION_USER=${REPLICATION_USER:-replicator}
PORT=${PGPORT:-5432}
POSTGRES=${PG_BIN:+$PG_BIN/}postgres

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    tries=0
    until pg_isready -q -h "$PRIMARY_HOST" -p "$PRIMARY_PORT"; do
        tries=$((tries + 1))
        [ "$tries" -lt 120 ] || { echo "replica: no primary at $PRIMARY_HOST:$PRIMARY_PORT" >&2; exit 1; }
        sleep 1
    done
    slot=""
    if [ -n "${REPLICATION_SLOT:-}" ]; then
        # A slot left by an earlier copy of this standby is used again rather than created twice.
        exists=$(psql -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U "$REPLICATION_USER" -d postgres -Atc \
            "SELECT 1 FROM pg_replication_slots WHERE slot_name = '$REPLICATION_SLOT'" || true)
        slot="--slot=$REPLICATION_SLOT"
        [ "$exists" = "1" ] || slot="--create-slot $slot"
    fi
    # shellcheck disable=SC2086  # $slot is two words or none
    pg_basebackup -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U "$REPLICATION_USER" -D "$PGDATA" \
        --wal-method=stream --write-recovery-conf --checkpoint=fast $slot
    chmod 700 "$PGDATA"
    if [ ! -f "$PGDATA/postgresql.conf" ]; then
        # A primary that keeps its configuration outside its data directory (Debian) copies none: a hot
        # standby needs these limits at least as high as the primary's, so they are read from it.
        for name in max_connections max_worker_processes max_wal_senders max_prepared_transactions \
            max_locks_per_transaction; do
            value=$(psql -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U "$REPLICATION_USER" -d postgres -Atc "SHOW $name")
            echo "$name = $value"
        done >"$PGDATA/postgresql.conf"
        echo "hot_standby = on" >>"$PGDATA/postgresql.conf"
    fi
    if [ ! -f "$PGDATA/pg_hba.conf" ]; then
        if [ -n "${STANDBY_HBA_FILE:-}" ]; then
            cp "$STANDBY_HBA_FILE" "$PGDATA/pg_hba.conf"
        else
            printf 'local all all peer\nhost all all samenet scram-sha-256\n' >"$PGDATA/pg_hba.conf"
        fi
    fi
    touch "$PGDATA/pg_ident.conf"
fi
exec "$POSTGRES" -D "$PGDATA" -p "$PORT" -c listen_addresses="${LISTEN_ADDRESSES:-*}" "$@"
