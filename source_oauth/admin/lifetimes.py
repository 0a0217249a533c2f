"""The API client list's token lifetime columns: the client's own, or the site default."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from oauth2_provider.settings import oauth2_settings

from ..models import ApiClient


def duration(seconds: int | float | None) -> str:
    """``90 s``, ``15 min``, ``1 h``, ``30 days``: the largest unit that divides it."""
    if seconds is None:
        return _("never expires")
    seconds = int(seconds)
    for unit, label in ((86400, _("days")), (3600, _("h")), (60, _("min"))):
        if seconds >= unit and seconds % unit == 0:
            return f"{seconds // unit} {label}"
    return f"{seconds} s"


def _site_default(name: str) -> int | None:
    value = getattr(oauth2_settings, name)
    return int(value.total_seconds()) if hasattr(value, "total_seconds") else value


class LifetimeColumnsMixin:
    """Columns (and read-only text) saying how long a client's tokens live."""

    @admin.display(description=gettext_lazy("access token lifetime"))
    def access_token_lifetime_column(self, obj: ApiClient) -> str:
        return self._lifetime(obj.access_token_lifetime, "ACCESS_TOKEN_EXPIRE_SECONDS")

    @admin.display(description=gettext_lazy("refresh token lifetime"))
    def refresh_token_lifetime_column(self, obj: ApiClient) -> str:
        return self._lifetime(obj.refresh_token_lifetime, "REFRESH_TOKEN_EXPIRE_SECONDS")

    @admin.display(description=gettext_lazy("token lifetimes"))
    def token_lifetimes_column(self, obj: ApiClient) -> str:
        """Both lifetimes in one narrow cell, so the list still fits 1280 px."""
        return format_html(
            "{}<br>{}",
            _("access: %(lifetime)s") % {"lifetime": self.access_token_lifetime_column(obj)},
            _("refresh: %(lifetime)s") % {"lifetime": self.refresh_token_lifetime_column(obj)},
        )

    def _lifetime(self, own: int | None, setting: str) -> str:
        if own:
            return duration(own)
        return _("%(duration)s (site default)") % {"duration": duration(_site_default(setting))}
