#!/bin/bash
# Our entry point in front of the image's own /docker-entrypoint.sh (the official one upstream,
# offline/docker-entrypoint.sh offline). A Rails boot costs 5-10 s, so a start does only what the
# database needs, found out cheaply by db-state.rb (the pg gem, no Rails):
#   - migrations only when some are missing (a new database, a new Redmine, a new plugin);
#   - on a database without Redmine's default data: first-start.rb, which gives the admin the
#     generated password (no forced change) and loads the default data, in one Rails process.
# A warm start goes straight to the server with REDMINE_NO_DB_MIGRATE set.
set -Eeuo pipefail

case ${1:-} in
rails | rake) ;;
*) exec /docker-entrypoint.sh "$@" ;;
esac
# Only a server start is set up; `rake …` and `rails runner …` run as they are.
if [[ $1 == rake || ${2:-} != server ]]; then
    exec /docker-entrypoint.sh "$@"
fi

state=$(ruby /usr/local/share/dockerlab/db-state.rb)
echo "dockerlab: database needs: ${state:-nothing}"

if [[ $state == *migrate* ]]; then
    /docker-entrypoint.sh rake db:migrate
    if compgen -G 'plugins/*/init.rb' >/dev/null; then
        /docker-entrypoint.sh rake redmine:plugins:migrate
    fi
fi

if [[ $state == *setup* ]]; then
    password=
    if [[ -n ${REDMINE_ADMIN_PASSWORD_FILE:-} ]]; then
        password=$(<"$REDMINE_ADMIN_PASSWORD_FILE")
    fi
    REDMINE_ADMIN_PASSWORD=${REDMINE_ADMIN_PASSWORD:-$password} REDMINE_NO_DB_MIGRATE=1 \
        /docker-entrypoint.sh rails runner /usr/local/share/dockerlab/first-start.rb
fi
unset REDMINE_ADMIN_PASSWORD REDMINE_ADMIN_PASSWORD_FILE

export REDMINE_NO_DB_MIGRATE=1
exec /docker-entrypoint.sh "$@"
