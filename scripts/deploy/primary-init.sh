#!/bin/sh
# The primary's side of the read replica (scripts/deploy/replica.sh), run once by the postgres image when it
# creates the primary's data directory (mounted into /docker-entrypoint-initdb.d): a role that may only
# replicate, with its own password, admitted for replication connections from the compose network only.
set -eu
: "${REPLICATION_PASSWORD:?a password for the replication role}"
role=${REPLICATION_USER:-replicator}
psql -v ON_ERROR_STOP=1 -v role="$role" -v password="$REPLICATION_PASSWORD" -U "$POSTGRES_USER" -d "$POSTGRES_DB" <<'SQL'
CREATE ROLE :"role" WITH REPLICATION LOGIN PASSWORD :'password';
SQL
echo "host replication $role samenet scram-sha-256" >>"$PGDATA/pg_hba.conf"
