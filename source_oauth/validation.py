"""The rules an API client's settings must follow, as field errors.

Used by ``ApiClient.clean()``, so the admin shows them as form errors and
the management commands as messages, never as a 500 later at the token
endpoint.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .lifetimes import lifetime_errors

if TYPE_CHECKING:
    from .models import ApiClient

LOOPBACK_HOSTS = {"localhost"}


def is_loopback(host: str | None) -> bool:
    """Tell whether ``host`` names this machine (RFC 8252 §7.3 loopback redirects)."""
    if not host:
        return False
    if host.lower() in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redirect_uri_errors(uri: str) -> list[str]:
    """Return what is wrong with one redirect URI (empty when it is acceptable).

    Accepted: https URLs; http URLs on a loopback host (RFC 8252 §7.3); a
    private-use scheme in reverse-domain form such as ``com.example.app:/cb``
    for native apps (RFC 8252 §7.1). Never a fragment or credentials
    (RFC 6749 §3.1.2).
    """
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError:
        return [_("“%(uri)s” is not a valid URI.") % {"uri": uri}]
    scheme = parts.scheme.lower()
    errors = []
    if "#" in uri:
        errors.append(
            _("“%(uri)s” has a fragment, which redirect URIs must not have.") % {"uri": uri}
        )
    if "@" in parts.netloc:
        errors.append(_("“%(uri)s” carries user credentials.") % {"uri": uri})
    if scheme in ("http", "https"):
        if not host:
            errors.append(_("“%(uri)s” is not an absolute URI with a host.") % {"uri": uri})
        elif scheme == "http" and not is_loopback(host):
            errors.append(
                _("“%(uri)s” uses http; use https (http is only allowed for loopback hosts).")
                % {"uri": uri}
            )
    elif not scheme:
        errors.append(_("“%(uri)s” is not an absolute URI.") % {"uri": uri})
    elif "." not in scheme:
        errors.append(
            _(
                "“%(uri)s” uses the scheme “%(scheme)s”; use https, or a private-use scheme "
                "in reverse-domain form such as com.example.app:/callback."
            )
            % {"uri": uri, "scheme": scheme}
        )
    return errors


def validate_api_client(client: ApiClient) -> None:
    """Raise a ``ValidationError`` keyed by field for every broken rule of ``client``."""
    grant = client.GrantType
    errors: defaultdict[str, list[str]] = defaultdict(list)
    grants = set(client.grant_types)
    uris = client.redirect_uris.split()

    if not grants:
        errors["grant_types"].append(_("Choose at least one grant type."))
    if grant.CLIENT_CREDENTIALS in grants and not client.confidential:
        errors["grant_types"].append(
            _("Client credentials needs a confidential client: a public client has no secret.")
        )
    if grant.REFRESH_TOKEN in grants and grant.AUTHORIZATION_CODE not in grants:
        errors["grant_types"].append(
            _("Refresh tokens are only issued with the authorization code grant; enable it too.")
        )
    if grant.AUTHORIZATION_CODE in grants and not uris:
        errors["redirect_uris"].append(
            _("The authorization code grant needs at least one redirect URI.")
        )
    for uri in uris:
        errors["redirect_uris"].extend(redirect_uri_errors(uri))
    for uri in client.post_logout_redirect_uris.split():
        errors["post_logout_redirect_uris"].extend(redirect_uri_errors(uri))
    for field, messages in lifetime_errors(client).items():
        errors[field].extend(messages)
    if not client.confidential and client.client_secret:
        errors["confidential"].append(
            _("A public client cannot have a secret. Remove the secret before making it public.")
        )
    errors = {field: messages for field, messages in errors.items() if messages}
    if errors:
        raise ValidationError(errors)


def redirect_uri_matches(registered: str, requested: str) -> bool:
    """Exact string comparison (RFC 9700 §4.1.3), with RFC 8252 §7.3's one exception.

    No case folding, no normalisation, no prefix or query leniency. For an
    http loopback URI the port may differ (native apps bind an ephemeral
    port); everything else must still be identical.
    """
    if requested == registered:
        return True
    if "#" in requested or "@" in requested.split("?", 1)[0]:
        return False
    try:
        reg, req = urlsplit(registered), urlsplit(requested)
        if reg.scheme != "http" or req.scheme != "http" or not is_loopback(reg.hostname):
            return False
        reg_port, req_port = reg.port, req.port  # ValueError for a malformed port
    except ValueError:
        return False

    def host(netloc: str, port: int | None) -> str:
        return netloc[: netloc.rfind(":")] if port is not None else netloc

    prefix = "http://"
    return (
        host(reg.netloc, reg_port) == host(req.netloc, req_port)
        and registered[len(prefix) + len(reg.netloc) :]
        == requested[len(prefix) + len(req.netloc) :]
        and registered.startswith(prefix)
        and requested.startswith(prefix)
    )
