#!/usr/bin/env bash
# Initialises a cluster on first start from POSTGRES_USER, POSTGRES_PASSWORD and
# POSTGRES_DB (as the official image does), then runs the server in the foreground.
# Arguments are the official image's: "postgres -c name=value ...".
set -euo pipefail
if [ "${1:-}" = postgres ]; then shift; fi
bin=/usr/lib/postgresql/15/bin
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
mkdir -p "$PGDATA" /var/run/postgresql
chown -R postgres:postgres "$PGDATA" /var/run/postgresql
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp); echo "${POSTGRES_PASSWORD:-postgres}" > "$pwfile"; chown postgres "$pwfile"
  su postgres -c "$bin/initdb -D '$PGDATA' -U '$user' --pwfile='$pwfile' --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8" >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  su postgres -c "$bin/pg_ctl -D '$PGDATA' -o \"-c listen_addresses=''\" -w start" >/dev/null
  if [ "$db" != "postgres" ]; then
    su postgres -c "$bin/psql -U '$user' -d postgres -v ON_ERROR_STOP=1 -c 'CREATE DATABASE \"$db\"'" >/dev/null
  fi
  su postgres -c "$bin/pg_ctl -D '$PGDATA' -m fast -w stop" >/dev/null
  echo "PostgreSQL init process complete; ready for start up."
fi
exec su postgres -c "exec $bin/postgres -D '$PGDATA' -c listen_addresses='*' $*"
