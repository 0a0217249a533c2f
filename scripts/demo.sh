#!/usr/bin/env bash
# Set up the example CMS on SQLite and serve it, with the OAuth server, on 127.0.0.1:8000
# (PORT=8011 bash scripts/demo.sh for another port).
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-8000}
PYTHON=${PYTHON:-python3}

port_taken() {
  "$PYTHON" - "$1" <<'PY'
import socket, sys
with socket.socket() as sock:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", int(sys.argv[1])))
    except OSError:
        sys.exit(0)
sys.exit(1)
PY
}
if port_taken "$PORT"; then
  echo "Port $PORT on 127.0.0.1 is already in use. Serve on another one, e.g.:" >&2
  echo "  PORT=$((PORT + 1)) bash scripts/demo.sh" >&2
  exit 1
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[example]"
.venv/bin/python manage.py migrate -v0
# The key that signs OpenID Connect ID tokens (created once; kept, encrypted, in the database).
.venv/bin/python manage.py oidc_keys generate
.venv/bin/python manage.py demo_setup --host "http://127.0.0.1:$PORT"
exec .venv/bin/python manage.py runserver "127.0.0.1:$PORT"
