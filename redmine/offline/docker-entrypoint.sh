#!/bin/bash
# Stand-in for the official redmine image's /docker-entrypoint.sh in the offline image (Debian's
# redmine package has none). It keeps the same contract for PostgreSQL: database.yml from
# REDMINE_DB_POSTGRES, _PORT, _USERNAME, _PASSWORD, _DATABASE (each also as _FILE),
# SECRET_KEY_BASE or REDMINE_SECRET_KEY_BASE(_FILE), `rake db:migrate` before a server start
# unless REDMINE_NO_DB_MIGRATE is set.
set -Eeuo pipefail

# file_env VAR [DEFAULT]: VAR or VAR_FILE (Docker/Compose secrets), never both.
# shellcheck source-path=SCRIPTDIR source=file-env.sh
. /usr/local/lib/dockerlab/file-env.sh

case ${1:-} in
rails | rake)
    file_env REDMINE_DB_POSTGRES
    if [[ -z $REDMINE_DB_POSTGRES ]]; then
        echo >&2 "error: REDMINE_DB_POSTGRES (the database host) is not set; this image runs on PostgreSQL only"
        exit 1
    fi
    file_env REDMINE_DB_PORT 5432
    file_env REDMINE_DB_USERNAME postgres
    file_env REDMINE_DB_PASSWORD
    file_env REDMINE_DB_DATABASE "$REDMINE_DB_USERNAME"
    file_env REDMINE_DB_ENCODING utf8
    # Values are quoted for YAML, as the official entry point does.
    {
        echo "$RAILS_ENV:"
        echo "  adapter: postgresql"
        for key in host port username password database encoding; do
            env=REDMINE_DB_${key^^}
            [[ $key == host ]] && env=REDMINE_DB_POSTGRES
            value=${!env}
            [[ -n $value ]] && printf '  %s: "%s"\n' "$key" "${value//\"/\\\"}"
        done
    } >config/database.yml

    file_env REDMINE_SECRET_KEY_BASE
    : "${SECRET_KEY_BASE:=$REDMINE_SECRET_KEY_BASE}"
    if [[ -z $SECRET_KEY_BASE ]]; then
        echo >&2 "error: set SECRET_KEY_BASE or REDMINE_SECRET_KEY_BASE(_FILE): this image has no baked-in key"
        exit 1
    fi
    export SECRET_KEY_BASE

    if [[ $1 != rake && -z ${REDMINE_NO_DB_MIGRATE:-} ]]; then
        rake db:migrate
    fi
    # a server killed hard leaves its pid file behind, and would refuse to start again
    rm -f tmp/pids/server.pid
    ;;
esac
exec "$@"
