"""The WSGI application behind nginx, with the client's address as ``REMOTE_ADDR``.

Behind a proxy, the peer gunicorn sees is nginx (an empty address on a Unix
socket), so every client would share one address: source_oauth limits failed
client authentications per address (``ratelimit``), and Django logs the
address too. nginx sends the address it saw as ``X-Real-IP``, replacing any
the client sent (deploy/nginx/source_oauth.conf); it is trusted only from a
peer that can be nginx: the Unix socket or loopback. Copy this file into
your project and name your settings module.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")

# The peers that can be nginx: a Unix socket (no address), or this host.
PROXIES = frozenset({"", "127.0.0.1", "::1"})


def behind_proxy(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        client = environ.get("HTTP_X_REAL_IP")
        if client and environ.get("REMOTE_ADDR", "") in PROXIES:
            environ["REMOTE_ADDR"] = client
        return app(environ, start_response)

    return application


application = behind_proxy(get_wsgi_application())
