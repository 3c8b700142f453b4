#!/bin/sh
# First start: a cluster in the volume, owned by POSTGRES_USER (password POSTGRES_PASSWORD),
# with one database per name in POSTGRES_DATABASES. Every start: the server on all interfaces
# of the compose network, password (scram) authentication for every remote connection.
set -eu
: "${POSTGRES_USER:?}" "${POSTGRES_PASSWORD:?}" "${POSTGRES_DATABASES:?}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  password_file=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" > "$password_file"
  initdb --pgdata="$PGDATA" --username="$POSTGRES_USER" --pwfile="$password_file" \
    --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8
  rm -f "$password_file"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  # Databases are created on a server that listens on its socket only: nobody connects early.
  pg_ctl --pgdata="$PGDATA" --options="-c listen_addresses=''" --wait start
  for database in $POSTGRES_DATABASES; do
    createdb --username="$POSTGRES_USER" "$database"
  done
  pg_ctl --pgdata="$PGDATA" --mode=fast --wait stop
fi
exec postgres -c listen_addresses='*'
