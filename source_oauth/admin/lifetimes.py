"""How long a client's tokens live, in words: its own lifetimes, or the site defaults."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from oauth2_provider.settings import oauth2_settings

from ..models import ApiClient


def duration(seconds: int | float | None) -> str:
    """``90 s``, ``15 min``, ``1 h``, ``1 day``, ``30 days``: the largest unit that divides it."""
    if seconds is None:
        return _("never expires")
    seconds = int(seconds)
    if seconds >= 86400 and seconds % 86400 == 0:
        days = seconds // 86400
        return ngettext("%(count)d day", "%(count)d days", days) % {"count": days}
    for unit, label in ((3600, _("h")), (60, _("min"))):
        if seconds >= unit and seconds % unit == 0:
            return f"{seconds // unit} {label}"
    return f"{seconds} s"


def _site_default(name: str) -> int | None:
    value = getattr(oauth2_settings, name)
    return int(value.total_seconds()) if hasattr(value, "total_seconds") else value


def summary(client: ApiClient) -> str:
    """Both of a client's token lifetimes in a few words, for a narrow cell of the list."""
    values = {
        "access": duration(
            client.access_token_lifetime or _site_default("ACCESS_TOKEN_EXPIRE_SECONDS")
        ),
        "refresh": duration(
            client.refresh_token_lifetime or _site_default("REFRESH_TOKEN_EXPIRE_SECONDS")
        ),
    }
    if client.access_token_lifetime or client.refresh_token_lifetime:
        return _("tokens: %(access)s / %(refresh)s") % values
    return _("tokens: %(access)s / %(refresh)s (site defaults)") % values
