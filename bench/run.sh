#!/usr/bin/env bash
# The benchmark of issue #7: source_oauth against stock django-oauth-toolkit, side by side.
#
#   bash bench/run.sh [--db sqlite|postgres|both] [--duration 10] [--profile] [--help]
#   bash bench/run.sh --db postgres --rows 10k,1M --peer oidc-provider --soak 600   # issue 16
#
# Installs what it needs (gunicorn and py-spy into .venv, wrk from Debian's
# packages), then runs bench/run.py: gunicorn servers on 127.0.0.1 only, driven
# by wrk for a bounded time each; prints a Markdown table and saves it to
# bench/results/<timestamp>-<db>.md. Needs PostgreSQL on 127.0.0.1:5432 (user
# postgres, trust) for --db postgres|both and Redis on 127.0.0.1:6379 for
# source_oauth's cache on PostgreSQL (database 14, flushed).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
if ! .venv/bin/python -c "import source_oauth, dj_database_url, psycopg, redis, gunicorn" 2>/dev/null \
    || [ ! -x .venv/bin/py-spy ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[example]" redis gunicorn py-spy
fi
if ! command -v wrk >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

# The peer of issue 16 (--peer oidc-provider): node packages pinned in bench/package-lock.json.
case " $* " in
    *" --peer"*)
        [ -d bench/node_modules/oidc-provider ] || npm ci --prefix bench --no-audit --no-fund ;;
esac

# Whatever way this ends, no server started by this run survives it: run.py stops
# its servers itself; should it be killed, this stops the process groups of the
# gunicorn masters (and node peer) it recorded for this run (and only those).
export BENCH_RUN="$(date +%Y%m%d-%H%M%S)"
cleanup() {
    for pidfile in bench/results/work-"$BENCH_RUN"-*/*.pid; do
        [ -e "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        if grep -qs -e gunicorn -e oidc_provider "/proc/$pid/cmdline"; then
            kill -TERM -- "-$pid" 2>/dev/null || true
        fi
    done
}
trap cleanup EXIT
.venv/bin/python bench/run.py "$@"
