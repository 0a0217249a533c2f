#!/usr/bin/env bash
# The fault benchmark of issue 14: Redis and PostgreSQL outages, stale connections, slow clients.
#
#   bash bench/faults.sh [--quick] [--outage 20] [--slow-clients 50] [--help]
#
# Installs what it needs (the example's packages and gunicorn into .venv; nginx from
# Debian's packages), then runs bench/faults.py: its own PostgreSQL and Redis on free
# loopback ports (never the machine's shared ones), the example project under gunicorn
# behind nginx (deploy/), the load, the faults; prints per-second tables and PASS/FAIL
# goal lines, saved to bench/results/faults-<timestamp>.md. About 5 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
if ! .venv/bin/python -c "import source_oauth, dj_database_url, psycopg, redis, django_redis, gunicorn" 2>/dev/null; then
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[example]" gunicorn
fi
missing=""
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$missing nginx"
command -v redis-server >/dev/null || missing="$missing redis-server"
[ -x "${SOURCE_OAUTH_PG_BIN:-/usr/lib/postgresql/15/bin}/initdb" ] || missing="$missing postgresql-15"
if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
export PATH="$PATH:/usr/sbin"

# faults.py stops everything it started; should it be killed itself, this stops what
# the newest run folder records (only those processes).
cleanup() {
    folder=$(ls -td bench/results/faults-*/ 2>/dev/null | head -1)
    [ -n "$folder" ] || return 0
    for name in gunicorn nginx; do
        pgid=$(cat "$folder/$name.pgid" 2>/dev/null || true)
        if [ -n "$pgid" ] && grep -qs "$name" "/proc/$pgid/cmdline"; then kill -KILL -- "-$pgid" 2>/dev/null || true; fi
    done
    pid=$(cat "$folder/redis.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && grep -qs redis-server "/proc/$pid/cmdline"; then kill -KILL "$pid" 2>/dev/null || true; fi
    pgdata=$(cat "$folder/pgdata" 2>/dev/null || true)
    if [ -n "$pgdata" ] && [ -e "$pgdata/postmaster.pid" ]; then
        pgctl="${SOURCE_OAUTH_PG_BIN:-/usr/lib/postgresql/15/bin}/pg_ctl"
        if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$pgctl" -D "$pgdata" -m immediate stop >/dev/null 2>&1 || true
        else "$pgctl" -D "$pgdata" -m immediate stop >/dev/null 2>&1 || true; fi
    fi
}
trap cleanup EXIT
.venv/bin/python -m bench.faults "$@"
