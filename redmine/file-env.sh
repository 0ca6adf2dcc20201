# file_env VAR [DEFAULT], with the semantics of the official images' entry points
# (docker-library/redmine and docker-library/postgres, docker-entrypoint.sh): exports VAR from
# VAR, or from the content of the file VAR_FILE names (Docker/Compose secrets), read as the
# shell's `$(< file)` reads it, i.e. without its trailing newlines; DEFAULT when neither is set;
# both set is an error that names the two. VAR_FILE is unset afterwards.
# Sourced by our entry point and by the offline stand-ins' entry points: one definition.
# shellcheck shell=bash
file_env() {
    local var=$1 file_var="${1}_FILE" default=${2:-}
    if [[ -n ${!var:-} && -n ${!file_var:-} ]]; then
        echo >&2 "error: both $var and $file_var are set (but are exclusive)"
        exit 1
    fi
    local value=$default
    if [[ -n ${!var:-} ]]; then
        value=${!var}
    elif [[ -n ${!file_var:-} ]]; then
        value=$(<"${!file_var}")
    fi
    export "$var=$value"
    unset "$file_var"
}
