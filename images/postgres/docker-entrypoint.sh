#!/bin/sh
# Initialise the cluster on first start, then run the server in the foreground.
set -eu

if [ "${1#-}" != "$1" ]; then
  set -- postgres "$@"
fi

if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD_FILE:-}" ] || [ ! -r "$POSTGRES_PASSWORD_FILE" ]; then
    echo "docker-entrypoint: POSTGRES_PASSWORD_FILE must name a readable file holding the superuser password" >&2
    exit 1
  fi
  initdb --pgdata="$PGDATA" --username="${POSTGRES_USER:-postgres}" \
    --pwfile="$POSTGRES_PASSWORD_FILE" --auth-local=peer --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8
fi

exec "$@"
