"""The one settings object of source_oauth.

Every setting lives in the ``SOURCE_OAUTH`` dict of the host project and is
read from ``django.conf.settings`` on every access, so ``override_settings``
works without any reload machinery. django-oauth-toolkit's own settings are
read through ``oauth2_provider.settings.oauth2_settings``, never copied here.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "REALM": "source_oauth",
    "CLIENT_SECRET_BYTES": 32,
    "SECRET_ROTATION_OVERLAP_SECONDS": 3600,
    "CACHE_ALIAS": "default",
    "AUTH_FAILURE_LIMIT": 10,
    "AUTH_FAILURE_WINDOW_SECONDS": 300,
    "REDEEMED_CODE_RETENTION_SECONDS": 30 * 24 * 3600,
    "TOKEN_CACHE_SECONDS": 300,
    "CLIENT_CACHE_SECONDS": 300,
    "PROCESS_CACHE_REDIS_URL": None,
    "PROCESS_CACHE_SECONDS": 60,
    "PROCESS_CACHE_MAX_ENTRIES": 1000,
    "IMAGE_MAX_PIXELS": 50_000_000,
    "IMAGE_STORAGE": "default",
    "SITE_NAME": None,
    "OIDC_CLAIMS": None,
    "REMEMBERED_CONSENT_SECONDS": 180 * 24 * 3600,
    "AUDIT_RETENTION_SECONDS": 365 * 24 * 3600,
}


class Settings:
    """Typed, documented access to ``settings.SOURCE_OAUTH``."""

    def _get(self, name: str) -> Any:
        return getattr(settings, "SOURCE_OAUTH", {}).get(name, DEFAULTS[name])

    @property
    def REALM(self) -> str:
        """Realm named in ``WWW-Authenticate`` challenges."""
        return self._get("REALM")

    @property
    def CLIENT_SECRET_BYTES(self) -> int:
        """Random bytes in a generated client secret (32 bytes = 256 bits)."""
        return self._get("CLIENT_SECRET_BYTES")

    @property
    def SECRET_ROTATION_OVERLAP_SECONDS(self) -> int:
        """How long a rotated-out client secret keeps working (0: it stops at once)."""
        return self._get("SECRET_ROTATION_OVERLAP_SECONDS")

    @property
    def CACHE_ALIAS(self) -> str:
        """Cache (``CACHES`` alias) for rate limits and the token cache; Redis in production."""
        return self._get("CACHE_ALIAS")

    @property
    def AUTH_FAILURE_LIMIT(self) -> int:
        """Failed client authentications allowed per client ID and per IP in one window."""
        return self._get("AUTH_FAILURE_LIMIT")

    @property
    def AUTH_FAILURE_WINDOW_SECONDS(self) -> int:
        """Length of the rate-limit window; a blocked client waits at most this long."""
        return self._get("AUTH_FAILURE_WINDOW_SECONDS")

    @property
    def REDEEMED_CODE_RETENTION_SECONDS(self) -> int:
        """How long a used authorization code is remembered to detect its replay."""
        return self._get("REDEEMED_CODE_RETENTION_SECONDS")

    @property
    def TOKEN_CACHE_SECONDS(self) -> int:
        """How long a looked-up access token stays cached (0 disables the token cache)."""
        return self._get("TOKEN_CACHE_SECONDS")

    @property
    def CLIENT_CACHE_SECONDS(self) -> int:
        """How long a looked-up API client stays cached (0 disables the client cache)."""
        return self._get("CLIENT_CACHE_SECONDS")

    @property
    def PROCESS_CACHE_REDIS_URL(self) -> str | None:
        """Redis whose pub/sub lets each process keep its own copy of tokens and clients."""
        return self._get("PROCESS_CACHE_REDIS_URL")

    @property
    def PROCESS_CACHE_SECONDS(self) -> int:
        """How long a process keeps its copy of a cache entry, at most."""
        return self._get("PROCESS_CACHE_SECONDS")

    @property
    def PROCESS_CACHE_MAX_ENTRIES(self) -> int:
        """How many entries a process keeps a copy of, at most.

        A token, with its client and user, pickles to about 1.2 KiB.
        """
        return self._get("PROCESS_CACHE_MAX_ENTRIES")

    @property
    def IMAGE_MAX_PIXELS(self) -> int:
        """Largest source image (width × height) rendered into a derivative.

        Checked from the file's header before any pixel is decoded; decoding
        costs about 4 bytes per pixel, so this bounds a rendering's memory.
        """
        return self._get("IMAGE_MAX_PIXELS")

    @property
    def IMAGE_STORAGE(self) -> str:
        """Storage (``STORAGES`` alias) holding source images and their derivatives."""
        return self._get("IMAGE_STORAGE")

    @property
    def SITE_NAME(self) -> str | None:
        """The site's name on the consent page ("… wants to access your <site> account").

        ``None``: the current ``django.contrib.sites`` Site's name when that app
        is installed, otherwise the request's host name.
        """
        return self._get("SITE_NAME")

    @property
    def OIDC_CLAIMS(self) -> str | None:
        """Dotted path of a host's ``function(user, scopes) -> dict`` of claims (oidc.claims)."""
        return self._get("OIDC_CLAIMS")

    @property
    def REMEMBERED_CONSENT_SECONDS(self) -> int:
        """How long a remembered approval of a third-party client's scopes lasts."""
        return self._get("REMEMBERED_CONSENT_SECONDS")

    @property
    def AUDIT_RETENTION_SECONDS(self) -> int | None:
        """How long ``clear_expired_oauth`` keeps audit events (``None``: for ever)."""
        return self._get("AUDIT_RETENTION_SECONDS")


conf = Settings()
