#!/bin/bash
# Entry point of the offline PostgreSQL image: creates the cluster, the user and the database on
# the first start (empty volume), as the official postgres image does, then runs the server.
set -Eeuo pipefail

# file_env VAR [DEFAULT]: VAR or VAR_FILE (Docker/Compose secrets), never both.
# shellcheck source-path=SCRIPTDIR source=../offline/file-env.sh
. /usr/local/lib/dockerlab/file-env.sh

if [[ ${1:-} == postgres && ! -s $PGDATA/PG_VERSION ]]; then
    file_env POSTGRES_PASSWORD
    file_env POSTGRES_USER postgres
    file_env POSTGRES_DB "$POSTGRES_USER"
    if [[ -z $POSTGRES_PASSWORD ]]; then
        echo >&2 "error: the database is not initialised and POSTGRES_PASSWORD(_FILE) is not set"
        exit 1
    fi
    echo "initialising the cluster in $PGDATA"
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
        --encoding=UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    # Other containers reach it over the network, with the password.
    echo 'host all all all scram-sha-256' >>"$PGDATA/pg_hba.conf"
    # A server on the socket only, so nobody connects before the database exists.
    pg_ctl --silent --wait --options "-c listen_addresses=''" start
    if [[ $POSTGRES_DB != postgres ]]; then
        createdb --username="$POSTGRES_USER" --maintenance-db=postgres "$POSTGRES_DB"
    fi
    pg_ctl --silent --wait --mode=fast stop
    unset POSTGRES_PASSWORD
    echo "cluster ready: user $POSTGRES_USER, database $POSTGRES_DB"
fi

if [[ ${1:-} == postgres ]]; then
    exec postgres -c listen_addresses='*' "${@:2}"
fi
exec "$@"
