#!/usr/bin/env bash
# Superset on the student-scores marts (see bi/superset/README.md).
#
#   scripts/superset.sh run          the endpoint (scores serve) on the demo data directory and
#                                    Superset beside it, dashboards imported; Ctrl-C stops both
#   scripts/superset.sh import       import bi/superset/dashboards/student_scores into Superset's
#                                    metadata (no server needed); the database password from
#                                    --password or SCORES_SUPERSET_DB_PASSWORD, --uri to point
#                                    the database elsewhere
#   scripts/superset.sh init         create/upgrade Superset's metadata and admin user
#   scripts/superset.sh export       export the dashboard from the running Superset into the repo
#   scripts/superset.sh roster       logins and row-level security for the staff roster in the
#                                    running Superset: --roster R.json (`scores roster show --json`)
#                                    --passwords P.json (user -> password of new logins)
#   scripts/superset.sh screenshot   docs/img/superset_dashboard.png from the running Superset
#
# Settings (environment): SCORES_CHDB_PATH (data directory, default data/chdb),
# SCORES_SUPERSET_HOME (Superset's metadata, default data/superset), SCORES_ENDPOINT_PORT (8123),
# SUPERSET_PORT (8088), SCORES_SERVE_USERS (default "bi:bi-pass:readonly"), SCORES_SUPERSET_DB_USER
# (the endpoint user Superset connects as, default bi; its password is read from SCORES_SERVE_USERS
# or given in SCORES_SUPERSET_DB_PASSWORD), SCORES_SUPERSET_ADMIN_USER/_PASSWORD (Superset's admin
# login, default admin/admin).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
command="${1:-help}"
[ $# -gt 0 ] && shift

SUPERSET_PORT="${SUPERSET_PORT:-8088}"
ENDPOINT_PORT="${SCORES_ENDPOINT_PORT:-8123}"
ADMIN_USER="${SCORES_SUPERSET_ADMIN_USER:-admin}"
ADMIN_PASSWORD="${SCORES_SUPERSET_ADMIN_PASSWORD:-admin}"
export SCORES_SUPERSET_ADMIN_USER="$ADMIN_USER" SCORES_SUPERSET_ADMIN_PASSWORD="$ADMIN_PASSWORD"
URL="http://127.0.0.1:$SUPERSET_PORT"

usage() { sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

tool() { "$SUPERSET_PYTHON" "$ROOT/bi/superset/scores_superset.py" "$@"; }

init_metadata() {
    # once per metadata directory and Superset version (db upgrade alone takes seconds)
    local stamp
    stamp="$SCORES_SUPERSET_HOME/.initialized-$(sha256sum "$ROOT/bi/superset/requirements.txt" | cut -c1-16)"
    if [ ! -f "$stamp" ]; then
        echo "==> Superset metadata in $SCORES_SUPERSET_HOME (db upgrade, admin user, roles)" >&2
        mkdir -p "$SCORES_SUPERSET_HOME"
        tool init --username "$ADMIN_USER" --user-password "$ADMIN_PASSWORD" >"$SCORES_SUPERSET_HOME/init.log" 2>&1 \
            || { tail -20 "$SCORES_SUPERSET_HOME/init.log" >&2; exit 1; }
        rm -f "$SCORES_SUPERSET_HOME"/.initialized-*
        touch "$stamp"
    fi
}

import_bundle() {
    # Superset's importers, in-process, overwriting the database, datasets, charts and dashboard
    # (`superset import-dashboards` alone would keep existing charts and datasets unchanged)
    echo "==> importing the student_scores dashboard" >&2
    tool import-local --username "$ADMIN_USER" "$@" >"$SCORES_SUPERSET_HOME/import.log" 2>&1 \
        || { tail -30 "$SCORES_SUPERSET_HOME/import.log" >&2; exit 1; }
}

user_password() {
    # the password of user $1 in SCORES_SERVE_USERS ("name:password:role,...")
    local entry
    IFS=',' read -ra entries <<<"$SCORES_SERVE_USERS"
    for entry in "${entries[@]}"; do
        if [ "${entry%%:*}" = "$1" ]; then
            entry="${entry#*:}"
            echo "${entry%%:*}"
            return
        fi
    done
    echo "error: no user $1 in SCORES_SERVE_USERS" >&2
    exit 1
}

case "$command" in
run)
    source "$ROOT/scripts/bootstrap.sh"
    source "$ROOT/scripts/superset_env.sh"
    export SCORES_CHDB_PATH="${SCORES_CHDB_PATH:-data/chdb}"
    if [ ! -d "$SCORES_CHDB_PATH" ]; then
        echo "error: no warehouse in $SCORES_CHDB_PATH; build the demo first: ROWS=600000 scripts/demo.sh" >&2
        exit 1
    fi
    db_user="${SCORES_SUPERSET_DB_USER:-bi}"
    db_password="${SCORES_SUPERSET_DB_PASSWORD:-}"
    if [ -z "${SCORES_SERVE_USERS_FILE:-}" ]; then
        export SCORES_SERVE_USERS="${SCORES_SERVE_USERS:-bi:bi-pass:readonly}"
        [ -n "$db_password" ] || db_password="$(user_password "$db_user")"
    elif [ -z "$db_password" ]; then
        echo "error: with SCORES_SERVE_USERS_FILE, give $db_user's password in SCORES_SUPERSET_DB_PASSWORD" >&2
        exit 2
    fi
    init_metadata

    echo "==> endpoint: scores serve on 127.0.0.1:$ENDPOINT_PORT ($SCORES_CHDB_PATH)" >&2
    scores serve --port "$ENDPOINT_PORT" &
    pids=$!
    # Ctrl-C or a kill of this script stops both servers
    trap 'kill $pids 2>/dev/null; wait $pids 2>/dev/null' EXIT
    trap 'exit 130' INT TERM
    for _ in $(seq 60); do
        curl -sf "http://127.0.0.1:$ENDPOINT_PORT/ping" >/dev/null && break
        kill -0 "$pids" 2>/dev/null || { echo "error: the endpoint did not start" >&2; exit 1; }
        sleep 0.5
    done
    import_bundle --uri "clickhousedb://$db_user@127.0.0.1:$ENDPOINT_PORT/scores" --password "$db_password"
    cat >&2 <<INFO

Superset:  $URL/superset/dashboard/student-scores/   (log in as $ADMIN_USER / $ADMIN_PASSWORD)
Endpoint:  http://127.0.0.1:$ENDPOINT_PORT  (ClickHouse HTTP; Superset connects as $db_user)
Ctrl-C stops both.

INFO
    (cd "$SCORES_SUPERSET_HOME" && exec "$SUPERSET" run -h "${SUPERSET_HOST:-127.0.0.1}" -p "$SUPERSET_PORT" --with-threads) &
    superset=$!
    pids="$pids $superset"
    wait "$superset"
    ;;
import)
    source "$ROOT/scripts/superset_env.sh"
    if [[ " $* " != *" --password"* ]] && [ -z "${SCORES_SUPERSET_DB_PASSWORD:-}" ]; then
        echo "error: the database password is needed: --password P or SCORES_SUPERSET_DB_PASSWORD" >&2
        exit 2
    fi
    init_metadata
    import_bundle "$@"
    echo "imported into $SCORES_SUPERSET_HOME" >&2
    ;;
init)
    source "$ROOT/scripts/superset_env.sh"
    init_metadata
    ;;
export)
    source "$ROOT/scripts/superset_env.sh"
    tool export --url "$URL" "$@"
    ;;
roster)
    source "$ROOT/scripts/superset_env.sh"
    tool roster --url "$URL" "$@"
    ;;
screenshot)
    source "$ROOT/scripts/superset_env.sh"
    "$SUPERSET_PYTHON" "$ROOT/scripts/superset_screenshot.py" --url "$URL" "$@"
    ;;
help | -h | --help)
    usage
    ;;
*)
    usage >&2
    exit 2
    ;;
esac
