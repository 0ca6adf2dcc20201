#!/bin/bash
# Our entry point in front of the base image's /docker-entrypoint.sh (the official one upstream,
# the stand-in's offline). A Rails boot costs 5-10 s, so a server start does only what the
# database needs. It runs in two passes:
#   1. as started: anything but a server start goes to /docker-entrypoint.sh as it is. A server
#      start goes through it too, with REDMINE_NO_DB_MIGRATE=1, wrapped as
#      `bundle exec dockerlab-entrypoint.sh --prepared rails server …`: the base's entry point
#      does everything it always does (steps down from root when started as root, writes
#      config/database.yml from REDMINE_DB_* or picks SQLite when none is set, SECRET_KEY_BASE,
#      gems of plugins) and then runs us again, so the database settings have exactly one
#      reader: the base's.
#   2. `--prepared`: db-state.rb reads config/database.yml and asks the database, without Rails,
#      what it needs: migrations only when some are missing (a new database, a new Redmine, a
#      new plugin built in); on a database without Redmine's default data, first-start.rb gives
#      the admin the password from REDMINE_ADMIN_PASSWORD(_FILE) (no forced change) and loads
#      the default data, in one Rails process. Then the server.
# The assets (Redmine's, the theme's, the plugins') are compiled into the image (Dockerfile).
# A warm start goes straight to the server.
set -Eeuo pipefail

# file_env VAR [DEFAULT]: VAR or VAR_FILE, never both (the official images' semantics).
# shellcheck source-path=SCRIPTDIR source=file-env.sh
. /usr/local/lib/dockerlab/file-env.sh

server_start() {
    [[ ${1:-} == rails && ${2:-} =~ ^(server|s)$ ]]
}

if [[ ${1:-} != --prepared ]]; then
    if ! server_start "$@"; then
        exec /docker-entrypoint.sh "$@"
    fi
    # Read here, so that both REDMINE_ADMIN_PASSWORD and its _FILE set fails at once.
    file_env REDMINE_ADMIN_PASSWORD
    # Whether the user asked for no migrations; the base's entry point is told to leave them to
    # us, plugins' too (it would run those before Redmine's own on a new database): db-state.rb
    # sees missing plugin migrations as it sees Redmine's.
    export DOCKERLAB_NO_DB_MIGRATE=${REDMINE_NO_DB_MIGRATE:-}
    export REDMINE_NO_DB_MIGRATE=1
    unset REDMINE_PLUGINS_MIGRATE
    exec /docker-entrypoint.sh bundle exec "$0" --prepared "$@"
fi
shift

state=$(ruby /usr/local/share/dockerlab/db-state.rb)
echo "dockerlab: database needs: ${state:-nothing}"

if [[ $state == *migrate* && -z ${DOCKERLAB_NO_DB_MIGRATE:-} ]]; then
    rake db:migrate
    if compgen -G 'plugins/*/init.rb' >/dev/null; then
        rake redmine:plugins:migrate
    fi
fi
if [[ $state == *setup* ]]; then
    rails runner /usr/local/share/dockerlab/first-start.rb
fi
unset REDMINE_ADMIN_PASSWORD DOCKERLAB_NO_DB_MIGRATE

exec "$@"
