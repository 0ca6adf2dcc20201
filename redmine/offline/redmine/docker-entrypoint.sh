#!/bin/bash
# /docker-entrypoint.sh of the Redmine stand-in (offline/redmine/Dockerfile). It keeps the
# contract of the official image's entry point (docker-library/redmine, docker-entrypoint.sh),
# written anew for Debian's Redmine 6.0:
#   - only commands that run Redmine (`rails …`, `rake …`, `bundle exec …`) are set up; anything
#     else runs as it is;
#   - started as root, it gives what Redmine writes to the redmine user and starts again as it;
#     started as any other user (`--user`, compose's `user:`), it runs as that user;
#   - config/database.yml is written from the environment when there is none: MySQL/MariaDB
#     (REDMINE_DB_MYSQL), PostgreSQL (REDMINE_DB_POSTGRES), SQL Server (REDMINE_DB_SQLSERVER,
#     refused here: Debian has no gems for it), and with none of them SQLite in sqlite/redmine.db;
#   - SECRET_KEY_BASE, else REDMINE_SECRET_KEY_BASE(_FILE), else a key generated into
#     config/initializers/secret_token.rb (kept only as long as the container);
#   - `rake db:migrate` before anything but rake unless REDMINE_NO_DB_MIGRATE is set, and
#     `rake redmine:plugins:migrate` when REDMINE_PLUGINS_MIGRATE is set.
set -Eeo pipefail

# file_env VAR [DEFAULT]: VAR or VAR_FILE, never both (the official semantics).
# shellcheck source-path=SCRIPTDIR source=../../file-env.sh
. /usr/local/lib/dockerlab/file-env.sh

redmine_command=
case ${1:-} in
rails | rake) redmine_command=1 ;;
bundle) [[ ${2:-} == exec ]] && redmine_command=1 ;;
esac
if [[ -z $redmine_command ]]; then
    exec "$@"
fi

# What Redmine writes (https://www.redmine.org/projects/redmine/wiki/RedmineInstall, step 8).
# The attachments can be many: they are walked only when their directory is not Redmine's yet.
if [[ $(id -u) == 0 ]]; then
    dirs=(config log public/assets/ sqlite tmp/)
    [[ $(stat -c %U files) == redmine ]] || dirs+=(files)
    find "${dirs[@]}" \! -user redmine -exec chown redmine:redmine {} +
    exec gosu redmine "$0" "$@"
fi

if [[ ! -e config/database.yml ]]; then
    file_env REDMINE_DB_MYSQL
    file_env REDMINE_DB_POSTGRES
    file_env REDMINE_DB_SQLSERVER
    if [[ -n $REDMINE_DB_MYSQL ]]; then
        adapter=mysql2 host=$REDMINE_DB_MYSQL
        file_env REDMINE_DB_PORT 3306
        file_env REDMINE_DB_USERNAME root
        file_env REDMINE_DB_PASSWORD
        file_env REDMINE_DB_DATABASE redmine
        file_env REDMINE_DB_ENCODING
    elif [[ -n $REDMINE_DB_POSTGRES ]]; then
        adapter=postgresql host=$REDMINE_DB_POSTGRES
        file_env REDMINE_DB_PORT 5432
        file_env REDMINE_DB_USERNAME postgres
        file_env REDMINE_DB_PASSWORD
        file_env REDMINE_DB_DATABASE "$REDMINE_DB_USERNAME"
        file_env REDMINE_DB_ENCODING utf8
    elif [[ -n $REDMINE_DB_SQLSERVER ]]; then
        echo >&2 "error: REDMINE_DB_SQLSERVER is set, but this stand-in has no SQL Server gems (Debian packages none); use PostgreSQL, MySQL/MariaDB or SQLite"
        exit 1
    else
        echo >&2 "warning: none of REDMINE_DB_MYSQL, REDMINE_DB_POSTGRES, REDMINE_DB_SQLSERVER is set: using SQLite (sqlite/redmine.db)"
        adapter=sqlite3 host=localhost
        file_env REDMINE_DB_PORT
        file_env REDMINE_DB_USERNAME redmine
        file_env REDMINE_DB_PASSWORD
        file_env REDMINE_DB_DATABASE sqlite/redmine.db
        file_env REDMINE_DB_ENCODING utf8
        mkdir -p "$(dirname "$REDMINE_DB_DATABASE")"
    fi
    export REDMINE_DB_ADAPTER=$adapter REDMINE_DB_HOST=$host
    # Every value but the adapter in double quotes, as upstream writes them.
    {
        echo "$RAILS_ENV:"
        echo "  adapter: $adapter"
        for key in host port username password database encoding; do
            env=REDMINE_DB_${key^^}
            [[ -n ${!env} ]] && printf '  %s: "%s"\n' "$key" "${!env}"
        done
    } >config/database.yml
fi

# gems of Gemfile.local and plugins; Debian's come from its packages only
bundle check >/dev/null || bundle install --local

file_env REDMINE_SECRET_KEY_BASE
: "${SECRET_KEY_BASE:=${REDMINE_SECRET_KEY_BASE:-}}"
if [[ -n $SECRET_KEY_BASE ]]; then
    export SECRET_KEY_BASE
else
    unset SECRET_KEY_BASE
    if [[ ! -f config/initializers/secret_token.rb ]]; then
        echo >&2 "warning: no SECRET_KEY_BASE or REDMINE_SECRET_KEY_BASE(_FILE): generating config/initializers/secret_token.rb"
        rake generate_secret_token
    fi
fi

if [[ $1 != rake && -z ${REDMINE_NO_DB_MIGRATE:-} ]]; then
    rake db:migrate
fi
if [[ $1 != rake && -n ${REDMINE_PLUGINS_MIGRATE:-} ]]; then
    rake redmine:plugins:migrate
fi
# a server killed hard leaves its pid file behind and would refuse to start again
rm -f tmp/pids/server.pid

exec "$@"
