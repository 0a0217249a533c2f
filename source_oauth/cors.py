"""CORS for the browser apps of registered API clients, through django-cors-headers.

django-cors-headers asks its ``check_request_enabled`` signal whether a
request may be answered cross-origin. ``cors_allowed`` says yes when the
request is for the token, revocation or introspection endpoint or the API
(``/api/``) *and* its ``Origin`` belongs to an API client. Never for the
authorization endpoint: a browser navigates there, no script should read it.

A client's origins are those of its https (or loopback http) redirect URIs,
so a single-page app registered with ``https://app.example.com/callback`` may
call from ``https://app.example.com`` with no further setting, plus any listed
in DOT's ``allowed_origins`` field (space-separated) for apps served from
elsewhere. A private-use-scheme URI (``com.example.app:/cb``) has no origin.

The set of every client's origins is built with one query and kept in
the shared cache (``cache.shared``) for ``ORIGINS_CACHE_SECONDS``; saving or
deleting a client drops it, so a request costs one cache read. Without the
cache it costs the query; without the database either, the origin is not
allowed (a browser then sees the request fail, never an unchecked origin).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from corsheaders.signals import check_request_enabled
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest

from . import outages
from .cache import shared
from .models import ApiClient
from .validation import is_loopback

# The token, revocation, introspection and UserInfo endpoints (with or without a trailing
# slash), and the API. (DOT answers the metadata documents and the JWKS, public documents, to
# every origin itself.)
CORS_PATHS = re.compile(r"^/(?:oauth/(?:token|revoke|introspect|userinfo)/?$|api/)")
ORIGINS_KEY = "source_oauth:cors_origins"
ORIGINS_CACHE_SECONDS = 300
DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(uri: str) -> str | None:
    """The serialized origin (``scheme://host[:port]``) of an https or loopback http URI.

    Lower-cased, default port dropped, as browsers send it in ``Origin``.
    None for anything else: other schemes, plain http on a public host,
    ``null``, or an unparsable value.
    """
    try:
        parts = urlsplit(uri.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if not host or scheme not in DEFAULT_PORTS or "@" in parts.netloc:
        return None
    if scheme == "http" and not is_loopback(host):
        return None
    if ":" in host:
        host = f"[{host}]"  # IPv6
    if port is None or port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def client_origins(client: ApiClient) -> set[str]:
    """The origins ``client``'s browser app may call from."""
    return _origins(client.redirect_uris, client.allowed_origins)


def registered_origins() -> frozenset[str]:
    """Every API client's origins: one query, then served from the cache."""
    return shared.fetch(ORIGINS_KEY, _load_origins, ORIGINS_CACHE_SECONDS)


def cors_allowed(sender: Any, request: HttpRequest, **kwargs: Any) -> bool:
    """Receiver of ``check_request_enabled``: a CORS path, called from a client's origin."""
    origin = request.headers.get("origin")
    if not (origin and CORS_PATHS.match(request.path_info)):
        return False
    try:
        # Browsers send an origin serialized exactly as origin_of() writes it: compare as is.
        return origin in registered_origins()
    except outages.DATABASE_ERRORS as error:  # in a middleware: no view would answer it
        outages.database.failed(error)
        return False


def _load_origins() -> frozenset[str]:
    return frozenset().union(
        *(
            _origins(redirect_uris, allowed_origins)
            for redirect_uris, allowed_origins in ApiClient.objects.values_list(
                "redirect_uris", "allowed_origins"
            )
        )
    )


def _origins(redirect_uris: str, allowed_origins: str) -> set[str]:
    candidates = (redirect_uris or "").split() + (allowed_origins or "").split()
    return {origin for origin in map(origin_of, candidates) if origin}


def _forget_origins(**kwargs: Any) -> None:
    shared.forget([ORIGINS_KEY], tombstones=False)


# django-cors-headers' rule: if any receiver returns a truthy value, CORS is allowed for
# the request. It asks once to enable CORS for the path, and again for the Origin.
check_request_enabled.connect(cors_allowed, dispatch_uid="source_oauth_cors")
post_save.connect(_forget_origins, sender=ApiClient, dispatch_uid="source_oauth_cors_saved")
post_delete.connect(_forget_origins, sender=ApiClient, dispatch_uid="source_oauth_cors_deleted")
