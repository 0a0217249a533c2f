"""What the pages a person sees during authorization say: site, client, account, target.

Used by the consent and error pages (``views.AuthorizationView``) and by the
sign-in page through the ``source_oauth`` template tags, so a host's own login
template can name the application that is asking, as the consent page does.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from django.apps import apps
from django.http import HttpRequest
from django.urls import Resolver404, resolve

from .conf import conf
from .models import ApiClient
from .validation import is_loopback


def site_name(request: HttpRequest) -> str:
    """The name people know this site by.

    ``SOURCE_OAUTH["SITE_NAME"]`` when set; otherwise the current site's name
    from ``django.contrib.sites`` when it is installed, or the host name.
    """
    if conf.SITE_NAME:
        return str(conf.SITE_NAME)
    if apps.is_installed("django.contrib.sites"):
        from django.contrib.sites.models import Site

        try:
            return Site.objects.get_current(request).name or request.get_host()
        except Site.DoesNotExist:  # no SITE_ID and no Site for this host
            pass
    return request.get_host()


@dataclass(frozen=True)
class Destination:
    """Where a redirect URI sends the person: a web site, this device, or an app on it."""

    SITE = "site"
    LOOPBACK = "loopback"  # http://127.0.0.1:…: a program on the person's own device
    APP = "app"  # a private-use scheme (RFC 8252 §7.1): the app that registered it

    name: str
    kind: str


def destination(redirect_uri: str) -> Destination:
    """Say where ``redirect_uri`` leads, as a person should read it: its host, or its app."""
    try:
        parts = urlsplit(redirect_uri)
        host = parts.hostname or ""
    except ValueError:
        return Destination(redirect_uri, Destination.SITE)
    if parts.scheme in ("http", "https"):
        return Destination(host, Destination.LOOPBACK if is_loopback(host) else Destination.SITE)
    return Destination(parts.scheme, Destination.APP)


@dataclass(frozen=True)
class ScopeItem:
    name: str
    description: str


def scope_items(names: list[str], descriptions: list[str]) -> list[ScopeItem]:
    """Pair each requested scope with the description users are shown."""
    return [
        ScopeItem(name, description or name)
        for name, description in zip(names, descriptions, strict=False)
    ]


def client_asking(next_url: str | None) -> ApiClient | None:
    """The API client of an authorization request that a sign-in page will return to.

    ``next_url`` is the login page's ``next``: when it is this site's
    authorization endpoint, the client named by its ``client_id``.
    """
    if not next_url:
        return None
    try:
        parts = urlsplit(next_url)
        match = resolve(parts.path)
    except (ValueError, Resolver404):
        return None
    if parts.netloc or match.view_name != "oauth2_provider:authorize":
        return None
    client_id = parse_qs(parts.query).get("client_id", [""])[0]
    if not client_id or "\x00" in client_id:
        return None
    return ApiClient.objects.filter(client_id=client_id).first()
