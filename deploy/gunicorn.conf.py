"""gunicorn for source_oauth, behind nginx (deploy/nginx/source_oauth.conf).

    gunicorn -c deploy/gunicorn.conf.py

Sync workers: a request here is CPU work and short database or Redis calls,
a few milliseconds. nginx buffers every request until it is complete and
every response until the client has it, so a worker never waits for a
client; it is busy only while it computes, and a slow or stalled client
costs an nginx connection (a few kilobytes), never a worker. Without nginx in
front, each slow client would hold a whole worker until ``timeout``.

Environment: ``GUNICORN_BIND`` (default the Unix socket nginx proxies to),
``GUNICORN_WORKERS`` (default 2 per core, plus one), ``DJANGO_SETTINGS_MODULE``.
"""

import multiprocessing
import os

wsgi_app = "deploy.wsgi:application"  # the project's application, REMOTE_ADDR from nginx
bind = os.environ.get("GUNICORN_BIND", "unix:/run/source_oauth/gunicorn.sock")
workers = int(os.environ.get("GUNICORN_WORKERS", 2 * multiprocessing.cpu_count() + 1))
worker_class = "sync"

# A worker silent for this long is killed and replaced. No request needs 30 s; one that
# takes it is stuck (nginx gives up on it at the same time: proxy_read_timeout).
timeout = 30
graceful_timeout = 30  # on restart or shutdown, requests in progress may finish
# Workers are replaced now and then, spread out, so a slow leak never grows.
max_requests = 20000
max_requests_jitter = 2000

# nginx tells whether the client used https (X-Forwarded-Proto); trusted from the Unix
# socket and loopback only (gunicorn's forwarded_allow_ips default).
errorlog = "-"
loglevel = "warning"
# gunicorn 25.1+ opens a control socket at one path per user ($HOME/.gunicorn/gunicorn.ctl),
# which a second instance on the host would take over; signals (HUP, TERM) do the job.
control_socket_disable = True
