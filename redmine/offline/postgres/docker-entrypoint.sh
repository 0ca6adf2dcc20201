#!/bin/bash
# Entry point of the PostgreSQL stand-in (offline/postgres/Dockerfile). On a data directory
# without PG_VERSION it does what the official image's entry point does (docker-library/postgres,
# docker-entrypoint.sh), written anew here:
#   1. POSTGRES_PASSWORD, POSTGRES_USER (postgres), POSTGRES_DB (= user), POSTGRES_INITDB_ARGS
#      from the environment or their _FILE; no password is an error unless
#      POSTGRES_HOST_AUTH_METHOD=trust (then a warning);
#   2. initdb --username=POSTGRES_USER with the password, POSTGRES_INITDB_ARGS word-split as the
#      shell would (and --waldir POSTGRES_INITDB_WALDIR); local connections stay initdb's default;
#   3. `host all all all METHOD` appended to pg_hba.conf, METHOD = POSTGRES_HOST_AUTH_METHOD or
#      the server's password_encryption (scram-sha-256);
#   4. a server on the socket only; POSTGRES_DB created unless it exists; then every file of
#      /docker-entrypoint-initdb.d/ in the shell's sorted order: *.sh run when executable, else
#      sourced; *.sql, *.sql.gz, *.sql.xz, *.sql.zst fed to psql (ON_ERROR_STOP) as the user, in
#      POSTGRES_DB; anything else ignored; the server stopped.
# A data directory with PG_VERSION is never initialised again: the scripts run once.
set -Eeo pipefail

# shellcheck source-path=SCRIPTDIR source=../../file-env.sh
. /usr/local/lib/dockerlab/file-env.sh

# psql as the new cluster's user, on the socket; init_psql in POSTGRES_DB.
user_psql() {
    PGHOST='' PGHOSTADDR='' psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password \
        --no-psqlrc "$@"
}
init_psql() {
    user_psql --dbname "$POSTGRES_DB" "$@"
}

run_init_files() {
    local file
    for file; do
        case $file in
        *.sh)
            if [[ -x $file ]]; then
                echo "$0: running $file"
                "$file"
            else
                echo "$0: sourcing $file"
                # shellcheck disable=SC1090
                . "$file"
            fi
            ;;
        *.sql) echo "$0: running $file" && init_psql -f "$file" ;;
        *.sql.gz) echo "$0: running $file" && gunzip -c "$file" | init_psql ;;
        *.sql.xz) echo "$0: running $file" && xzcat "$file" | init_psql ;;
        *.sql.zst) echo "$0: running $file" && zstd -dc "$file" | init_psql ;;
        *) echo "$0: ignoring $file" ;;
        esac
    done
}

initialise() {
    file_env POSTGRES_PASSWORD
    file_env POSTGRES_USER postgres
    file_env POSTGRES_DB "$POSTGRES_USER"
    file_env POSTGRES_INITDB_ARGS
    if [[ -z $POSTGRES_PASSWORD && ${POSTGRES_HOST_AUTH_METHOD:-} != trust ]]; then
        echo >&2 "error: the database is not initialised and POSTGRES_PASSWORD(_FILE) is not set (or POSTGRES_HOST_AUTH_METHOD=trust, not recommended)"
        exit 1
    fi
    if [[ ${POSTGRES_HOST_AUTH_METHOD:-} == trust ]]; then
        echo >&2 "warning: POSTGRES_HOST_AUTH_METHOD=trust: anyone who reaches the port connects without a password"
    fi

    mkdir -p "$PGDATA"
    chmod 0700 "$PGDATA" || :
    if [[ -n ${POSTGRES_INITDB_WALDIR:-} ]]; then
        mkdir -p "$POSTGRES_INITDB_WALDIR"
        chmod 0700 "$POSTGRES_INITDB_WALDIR"
        set -- --waldir "$POSTGRES_INITDB_WALDIR" "$@"
    fi
    # read before anything is created, so that an unreadable directory fails a clean start
    ls /docker-entrypoint-initdb.d/ >/dev/null

    echo "initialising the cluster in $PGDATA"
    # initdb refuses an empty password file, hence the newline; the extra arguments are split
    # like words of the shell (quotes included), as upstream does
    eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") '"$POSTGRES_INITDB_ARGS"' "$@"'

    local method=${POSTGRES_HOST_AUTH_METHOD:-}
    [[ -n $method ]] || method=$(postgres -C password_encryption)
    printf '\nhost all all all %s\n' "$method" >>"$PGDATA/pg_hba.conf"

    export PGPASSWORD=${PGPASSWORD:-$POSTGRES_PASSWORD}
    pg_ctl -D "$PGDATA" --silent --wait \
        --options "-c listen_addresses='' -p ${PGPORT:-5432}" start
    # (on standard input: psql interpolates :'db' there, not in --command)
    if [[ -z $(user_psql --dbname postgres --set db="$POSTGRES_DB" --tuples-only \
        <<<"SELECT 1 FROM pg_database WHERE datname = :'db'") ]]; then
        user_psql --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db"'
    fi
    run_init_files /docker-entrypoint-initdb.d/*
    pg_ctl -D "$PGDATA" --silent --wait --mode=fast stop
    unset PGPASSWORD POSTGRES_PASSWORD
    echo "cluster ready: user $POSTGRES_USER, database $POSTGRES_DB"
}

# an option first means the server, as upstream
if [[ ${1:-} == -* ]]; then
    set -- postgres "$@"
fi
wants_help() {
    local arg
    for arg; do
        case $arg in -'?' | --help | --describe-config | -V | --version) return 0 ;; esac
    done
    return 1
}
if [[ $1 == postgres ]] && ! wants_help "$@" && [[ ! -s $PGDATA/PG_VERSION ]]; then
    initialise
fi
exec "$@"
