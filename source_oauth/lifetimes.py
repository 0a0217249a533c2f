"""Per-client token lifetimes: an API client may set its own, empty meaning the site default.

The site defaults are DOT's ``ACCESS_TOKEN_EXPIRE_SECONDS`` and
``REFRESH_TOKEN_EXPIRE_SECONDS``. Every grant issues its access token through
the server's one ``BearerToken`` (``source_oauth.server``), whose ``expires_in``
is ``access_token_expires_in``; every refresh is checked by
``ClientLifetimesMixin.validate_refresh_token``.

DOT counts a refresh token's life from the expiry of the access token issued
with it (a refresh token dies after that long without use) and refuses one
past the site default itself. A client's refresh token lifetime is counted
the same way, so it can only be shorter than the site default: the model
refuses a longer one (``lifetime_errors``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.utils import timezone
from django.utils.translation import gettext as _
from oauth2_provider.settings import oauth2_settings

if TYPE_CHECKING:
    from .models import ApiClient

# Sane bounds, in seconds, for the admin and the model.
ACCESS_TOKEN_MIN, ACCESS_TOKEN_MAX = 60, 24 * 3600
REFRESH_TOKEN_MIN, REFRESH_TOKEN_MAX = 300, 366 * 24 * 3600


def access_token_expires_in(request: Any, default: Any = None) -> int:
    """Seconds until an access token issued for ``request.client`` expires.

    ``default`` is the server's ``token_expires_in`` (the site default, or a
    callable a project configured through ``EXTRA_SERVER_KWARGS``).
    """
    lifetime = getattr(getattr(request, "client", None), "access_token_lifetime", None)
    if lifetime:
        return int(lifetime)
    if callable(default):
        return int(default(request))
    return int(default or oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS)


def refresh_token_life() -> timedelta | None:
    """The site's refresh token life as a ``timedelta``; ``None`` when refresh tokens never expire.

    ``REFRESH_TOKEN_EXPIRE_SECONDS`` may be seconds or a ``timedelta``; 0 or unset: forever.
    """
    life = oauth2_settings.REFRESH_TOKEN_EXPIRE_SECONDS
    if not life:
        return None
    return life if isinstance(life, timedelta) else timedelta(seconds=life)


def refresh_token_expired(client: ApiClient, refresh_token: Any) -> bool:
    """Whether ``refresh_token`` outlived its client's own lifetime (DOT checks the site's)."""
    lifetime = client.refresh_token_lifetime
    access_token = getattr(refresh_token, "access_token", None)
    if not lifetime or access_token is None:
        return False
    return access_token.expires + timedelta(seconds=lifetime) <= timezone.now()


def lifetime_errors(client: ApiClient) -> dict[str, list[str]]:
    """The lifetime rules that need the site's settings (bounds are the fields' validators)."""
    site = oauth2_settings.REFRESH_TOKEN_EXPIRE_SECONDS
    if site is None or not client.refresh_token_lifetime:
        return {}
    site_seconds = int(site.total_seconds()) if isinstance(site, timedelta) else int(site)
    if client.refresh_token_lifetime > site_seconds:
        return {
            "refresh_token_lifetime": [
                _(
                    "At most the site's refresh token lifetime, %(seconds)d seconds "
                    '(OAUTH2_PROVIDER["REFRESH_TOKEN_EXPIRE_SECONDS"]): a refresh token '
                    "never outlives it."
                )
                % {"seconds": site_seconds}
            ]
        }
    return {}


class ClientLifetimesMixin:
    """Validator mixin: a refresh token is refused once its client's lifetime has passed."""

    def validate_refresh_token(
        self, refresh_token: str, client: ApiClient, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        valid = super().validate_refresh_token(refresh_token, client, request, *args, **kwargs)
        instance = getattr(request, "refresh_token_instance", None)
        return valid and not refresh_token_expired(client, instance)
