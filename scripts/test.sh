#!/usr/bin/env bash
# Install everything the tests need, then run them all (extra arguments go to pytest).
# DATABASE_URL=postgres://... runs them on PostgreSQL instead of SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]"

# The npm client libraries some tests drive (tests/node/), as pinned in its package-lock.json.
npm ci --prefix tests/node --no-audit --no-fund --loglevel=error >/dev/null

# The browser tests drive Debian's Chromium (Playwright's own download needs internet);
# the deployment tests run Debian's nginx in front of gunicorn (deploy/).
missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$missing nginx"
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

exec .venv/bin/python -m pytest "$@"
