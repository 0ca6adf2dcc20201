# Sourced by the offline images' entry points (Redmine's and PostgreSQL's), as the official
# images' entry points define it: `file_env VAR [DEFAULT]` exports VAR from VAR or from the file
# named by VAR_FILE (Docker/Compose secrets), never both, then unsets VAR_FILE.
# shellcheck shell=bash
file_env() {
    local var=$1 file_var="${1}_FILE" default=${2:-}
    if [[ -n ${!var:-} && -n ${!file_var:-} ]]; then
        echo >&2 "error: both $var and $file_var are set (they are exclusive)"
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
